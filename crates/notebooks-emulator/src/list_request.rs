//! What a list method was asked for: page size, filter, order and page token, read from its
//! query parameters. Every list method (instances, operations, locations) reads them the same
//! way, so the limits and the errors for a bad filter or order are the same everywhere.

use super::filter::Filter;
use super::paging::Order;
use super::request::query_value;
use super::status::ApiError;
use super::store::ListQuery;

/// Page size when the client sets none (or ≤ 0), and the most one page returns.
const DEFAULT_PAGE_SIZE: usize = 500;
const MAX_PAGE_SIZE: usize = 1000;

/// Paging, filter and order of a list method; `order_fields` are those it may sort on.
pub fn list_query(
    query: &[(String, String)],
    order_fields: &[&str],
) -> Result<ListQuery, ApiError> {
    let page_size = query_value(query, "pageSize")
        .and_then(|size| size.trim().parse::<i64>().ok())
        .and_then(|size| usize::try_from(size).ok())
        .filter(|size| *size > 0)
        .map_or(DEFAULT_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE));
    Ok(ListQuery {
        filter: Filter::parse(query_value(query, "filter").unwrap_or_default())?,
        order: Order::parse(
            query_value(query, "orderBy").unwrap_or_default(),
            order_fields,
        )?,
        page_size,
        page_token: query_value(query, "pageToken")
            .filter(|token| !token.is_empty())
            .map(str::to_owned),
    })
}
