//! `getIamPolicy`, `setIamPolicy` and `testIamPermissions` on an instance.
//!
//! The emulator enforces no access control, but a client that manages policies should see
//! Google's rules: the policy is stored per instance with an etag, versions are 0, 1 or 3,
//! conditional bindings need version 3, and every binding names a role and principals in
//! IAM's syntax.

use serde_json::{Map, Value, json};

use super::ApiVersion;
use super::request::{json_body, query_value};
use super::schema::{Discovery, MethodSpec};
use super::status::{ApiError, Code};
use super::store::Store;

/// Principal forms IAM accepts in `Binding.members`.
const MEMBER_PREFIXES: &[&str] = &[
    "user:",
    "serviceAccount:",
    "group:",
    "domain:",
    "principal://",
    "principalSet://",
    "deleted:",
    "projectOwner:",
    "projectEditor:",
    "projectViewer:",
];

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, message.clone()).with_field_violation(field, &message)
}

fn conditional(policy: &Value) -> bool {
    policy["bindings"]
        .as_array()
        .is_some_and(|bindings| bindings.iter().any(|b| b.get("condition").is_some()))
}

fn valid_member(member: &str) -> bool {
    matches!(member, "allUsers" | "allAuthenticatedUsers")
        || MEMBER_PREFIXES
            .iter()
            .any(|prefix| member.len() > prefix.len() && member.starts_with(prefix))
}

fn valid_role(role: &str) -> bool {
    let custom = |scope: &str| {
        role.strip_prefix(scope)
            .and_then(|rest| rest.split_once("/roles/"))
            .is_some_and(|(owner, name)| !owner.is_empty() && !name.is_empty())
    };
    role.strip_prefix("roles/")
        .is_some_and(|name| !name.is_empty())
        || custom("projects/")
        || custom("organizations/")
}

/// # Errors
/// NOT_FOUND for a missing instance; INVALID_ARGUMENT for a version other than 0, 1 or 3, or
/// below 3 for a policy with conditions.
pub fn get_policy(
    store: &Store,
    version: ApiVersion,
    name: &str,
    query: &[(String, String)],
) -> Result<Value, ApiError> {
    let field = "options.requestedPolicyVersion";
    let requested = query_value(query, field).map_or(Ok(0), |text| {
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|v| matches!(v, 0 | 1 | 3))
            .ok_or_else(|| {
                invalid(
                    "options.requested_policy_version",
                    format!(
                        "Invalid requested policy version {text}: valid versions are 0, 1 and 3."
                    ),
                )
            })
    })?;
    let policy = store.policy(version, name)?;
    if conditional(&policy) && requested < 3 {
        return Err(invalid(
            "options.requested_policy_version",
            format!(
                "The policy of {name} has conditional role bindings: request policy version 3."
            ),
        ));
    }
    Ok(policy)
}

/// # Errors
/// NOT_FOUND, ABORTED for a stale etag, or INVALID_ARGUMENT for a policy IAM would refuse.
pub fn set_policy(
    store: &Store,
    api: &Discovery,
    method: &MethodSpec,
    version: ApiVersion,
    name: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let request = api.check_request(method, &json_body(body)?)?;
    Ok(store.set_policy(version, name, checked_policy(&request)?)?)
}

/// The `policy` of a `setIamPolicy` request as IAM would store it: bindings of roles to
/// principals in IAM's syntax, at version 3 with conditions and 1 without (also for the
/// emulator's Secret Manager).
///
/// # Errors
/// INVALID_ARGUMENT naming the field IAM would refuse.
pub fn checked_policy(request: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let Some(Value::Object(policy)) = request.get("policy") else {
        return Err(invalid("policy", "Field 'policy' is required.".to_owned()));
    };
    let mut policy: Map<String, Value> = policy.clone();
    for (index, binding) in policy
        .get("bindings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let role = binding["role"].as_str().unwrap_or_default();
        if !valid_role(role) {
            return Err(invalid(
                &format!("policy.bindings[{index}].role"),
                format!(
                    "Role \"{role}\" is not a role name (roles/…, projects/P/roles/…, organizations/O/roles/…)."
                ),
            ));
        }
        let members = binding["members"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if members.is_empty() {
            return Err(invalid(
                &format!("policy.bindings[{index}].members"),
                format!("The binding of {role} has no members."),
            ));
        }
        if let Some(member) = members
            .iter()
            .find(|m| !m.as_str().is_some_and(valid_member))
        {
            return Err(invalid(
                &format!("policy.bindings[{index}].members"),
                format!("Invalid principal {member} in the binding of {role}."),
            ));
        }
    }
    let given = policy.get("version").and_then(Value::as_i64);
    if !matches!(given, None | Some(0 | 1 | 3)) {
        return Err(invalid(
            "policy.version",
            "The policy version must be 0, 1 or 3.".to_owned(),
        ));
    }
    let conditions = conditional(&Value::Object(policy.clone()));
    if conditions && given != Some(3) {
        return Err(invalid(
            "policy.version",
            "A policy with conditional role bindings must have version 3.".to_owned(),
        ));
    }
    let stored_version = if conditions { 3 } else { 1 };
    policy.insert("version".to_owned(), json!(stored_version));
    Ok(policy)
}

/// Every Notebooks permission asked about is granted: the emulator checks no credentials.
///
/// # Errors
/// NOT_FOUND, or INVALID_ARGUMENT for a wildcard or a permission of another service.
pub fn test_permissions(
    store: &Store,
    api: &Discovery,
    method: &MethodSpec,
    version: ApiVersion,
    name: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let request = api.check_request(method, &json_body(body)?)?;
    store.instance(version, name)?;
    let permissions: Vec<&str> = request
        .get("permissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(bad) = permissions
        .iter()
        .find(|p| p.contains('*') || !p.starts_with("notebooks."))
    {
        return Err(invalid(
            "permissions",
            format!("Permission {bad} is not valid for this resource."),
        ));
    }
    if permissions.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "permissions": permissions }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_and_roles_follow_iam_syntax() {
        for good in [
            "user:a@b.c",
            "serviceAccount:x@p.iam.gserviceaccount.com",
            "allUsers",
            "principal://iam/x",
        ] {
            assert!(valid_member(good), "{good}");
        }
        for bad in ["a@b.c", "user:", "everyone", ""] {
            assert!(!valid_member(bad), "{bad}");
        }
        for good in [
            "roles/notebooks.viewer",
            "projects/p/roles/custom",
            "organizations/1/roles/r",
        ] {
            assert!(valid_role(good), "{good}");
        }
        for bad in [
            "",
            "roles/",
            "notebooks.viewer",
            "projects//roles/r",
            "projects/p/roles/",
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }
}
