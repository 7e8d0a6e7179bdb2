//! `locations.list` and `locations.get`: the regions and zones a project can create Workbench
//! instances in. The emulator does not check the location of a create against this list (see
//! the README); it serves the list for clients that offer a choice of location.

use serde_json::{Value, json};

use super::list_request::list_query;
use super::status::{ApiError, Code};
use super::store::StoreError;
use super::{paging, schema::Discovery};

/// Region, the city Google names it after, and the suffixes of its zones.
const REGIONS: &[(&str, &str, &[&str])] = &[
    ("asia-east1", "Taiwan", &["a", "b", "c"]),
    ("asia-northeast1", "Tokyo", &["a", "b", "c"]),
    ("asia-southeast1", "Singapore", &["a", "b", "c"]),
    ("australia-southeast1", "Sydney", &["a", "b", "c"]),
    ("europe-west1", "Belgium", &["b", "c", "d"]),
    ("europe-west2", "London", &["a", "b", "c"]),
    ("europe-west4", "Netherlands", &["a", "b", "c"]),
    ("us-central1", "Iowa", &["a", "b", "c", "f"]),
    ("us-east1", "South Carolina", &["b", "c", "d"]),
    ("us-east4", "Northern Virginia", &["a", "b", "c"]),
    ("us-west1", "Oregon", &["a", "b", "c"]),
];

/// Every location of `project` (`projects/P`), regions and zones.
fn all(project: &str) -> Vec<Value> {
    let location = |id: &str, city: &str, region: &str| {
        json!({
            "name": format!("{project}/locations/{id}"),
            "locationId": id,
            "displayName": city,
            "labels": {"cloud.googleapis.com/region": region},
        })
    };
    REGIONS
        .iter()
        .flat_map(|(region, city, zones)| {
            std::iter::once(location(region, city, region)).chain(
                zones
                    .iter()
                    .map(move |zone| location(&format!("{region}-{zone}"), city, region)),
            )
        })
        .collect()
}

/// # Errors
/// INVALID_ARGUMENT for an unknown parameter, a bad filter or page token.
pub fn list(api: &Discovery, project: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    api.check_query("locations", "list", query)?;
    let list = list_query(query, &[])?;
    let locations = all(project)
        .into_iter()
        .filter(|location| list.filter.matches(location))
        .collect();
    paging::page(
        locations,
        &list.order,
        list.page_size,
        list.page_token.as_deref(),
        "locations",
    )
    .map_err(|error| StoreError::from(error).into())
}

/// # Errors
/// NOT_FOUND for a location outside the list.
pub fn get(api: &Discovery, name: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    api.check_query("locations", "get", query)?;
    let project = name.split("/locations/").next().unwrap_or_default();
    all(project)
        .into_iter()
        .find(|location| location["name"] == name)
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("Location {name} is not found.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiVersion;
    use crate::schema::discovery;

    #[test]
    fn regions_and_zones_are_listed_and_found() {
        let api = discovery(ApiVersion::V2);
        let everything = list(api, "projects/p", &[]).unwrap();
        let locations = everything["locations"].as_array().unwrap();
        assert_eq!(
            locations.len(),
            REGIONS.iter().map(|r| 1 + r.2.len()).sum::<usize>()
        );
        let filter = [("filter".to_owned(), "displayName=Tokyo".to_owned())];
        let tokyo = list(api, "projects/p", &filter).unwrap();
        assert_eq!(tokyo["locations"].as_array().unwrap().len(), 4);
        let zone = get(api, "projects/p/locations/us-central1-f", &[]).unwrap();
        assert_eq!(zone["labels"]["cloud.googleapis.com/region"], "us-central1");
        let error = get(api, "projects/p/locations/mars-north1", &[]).unwrap_err();
        assert_eq!(error.code, Code::NotFound);
        let paged = [("pageSize".to_owned(), "5".to_owned())];
        let first = list(api, "projects/p", &paged).unwrap();
        assert_eq!(first["locations"].as_array().unwrap().len(), 5);
        assert!(first["nextPageToken"].is_string());
    }
}
