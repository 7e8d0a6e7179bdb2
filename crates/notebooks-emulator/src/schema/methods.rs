//! The methods of a discovery document, found by HTTP method and path.
//!
//! Rendering an answer (enum numbers, a `fields` mask) needs the method's response schema, and
//! reading a `body: "*"` request needs to know which fields the path already binds. Both come
//! from the discovery document here, so no route has to restate them.

use serde_json::{Map, Value};

use super::Discovery;
use crate::status::ApiError;

/// One method: `projects.locations.instances.stop` and what its request and answer are.
#[derive(Debug)]
pub struct MethodSpec {
    pub http_method: String,
    /// `flatPath` split at `/`, each segment split at its custom-method colon.
    segments: Vec<(String, Option<String>)>,
    /// `instances` for `projects.locations.instances.stop`, `locations` for `projects.locations.get`.
    pub resource: String,
    pub name: String,
    pub request: Option<String>,
    pub response: Option<String>,
    parameters: Map<String, Value>,
}

fn split_verb(segment: &str) -> (String, Option<String>) {
    match segment.split_once(':') {
        Some((head, verb)) => (head.to_owned(), Some(verb.to_owned())),
        None => (segment.to_owned(), None),
    }
}

impl MethodSpec {
    /// The spec of parameter `name` (path or query).
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters.get(name)
    }

    /// Whether the path binds field `name` (`name`, `parent`, `resource`, …), in either spelling.
    fn binds(&self, name: &str) -> bool {
        self.parameters.iter().any(|(bound, spec)| {
            spec["location"] == "path" && (bound == name || super::snake_case(bound) == name)
        })
    }

    fn matches(&self, http_method: &str, segments: &[&str]) -> bool {
        self.http_method == http_method
            && segments.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|((head, verb), got)| {
                    let (got_head, got_verb) = match got.split_once(':') {
                        Some((head, verb)) => (head, Some(verb)),
                        None => (*got, None),
                    };
                    let head_matches = if head.starts_with('{') {
                        !got_head.is_empty()
                    } else {
                        head == got_head
                    };
                    head_matches && verb.as_deref() == got_verb
                })
    }
}

/// Every method under `resources`, depth first.
pub(super) fn collect(resources: &Value, parent: &str, out: &mut Vec<MethodSpec>) {
    let Some(resources) = resources.as_object() else {
        return;
    };
    for (resource, spec) in resources {
        for (name, method) in spec["methods"].as_object().into_iter().flatten() {
            out.push(MethodSpec {
                http_method: method["httpMethod"].as_str().unwrap_or_default().to_owned(),
                segments: method["flatPath"]
                    .as_str()
                    .unwrap_or_default()
                    .split('/')
                    .map(split_verb)
                    .collect(),
                resource: resource.clone(),
                name: name.clone(),
                request: method["request"]["$ref"].as_str().map(str::to_owned),
                response: method["response"]["$ref"].as_str().map(str::to_owned),
                parameters: method["parameters"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            });
        }
        let path = if parent.is_empty() {
            resource.clone()
        } else {
            format!("{parent}.{resource}")
        };
        collect(&spec["resources"], &path, out);
    }
}

impl Discovery {
    /// The method `http_method path` calls (`path` as sent, `/v2/projects/…`, colons decoded).
    pub fn method(&self, http_method: &str, path: &str) -> Option<&MethodSpec> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.methods
            .iter()
            .find(|method| method.matches(http_method, &segments))
    }

    /// The method `projects.locations.{resource}.{name}`.
    pub fn method_named(&self, resource: &str, name: &str) -> Option<&MethodSpec> {
        self.methods
            .iter()
            .find(|method| method.resource == resource && method.name == name)
    }

    /// Checks the body of a `body: "*"` method. Fields the path binds (`name`, `resource`) may
    /// appear in the body too: gRPC transcoding lets the path win, and Google's generated
    /// clients send the whole request message, path fields included.
    ///
    /// # Errors
    /// The first violation, as Google's 400 `INVALID_ARGUMENT`.
    pub fn check_request(
        &self,
        method: &MethodSpec,
        body: &Value,
    ) -> Result<Map<String, Value>, ApiError> {
        let Some(schema) = method.request.as_deref() else {
            return Ok(Map::new());
        };
        let mut body = body.clone();
        if let Some(fields) = body.as_object_mut() {
            fields.retain(|key, _| !method.binds(key));
        }
        self.check_body(schema, "", &body)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::discovery;
    use crate::ApiVersion;

    #[test]
    fn paths_find_their_methods_and_schemas() {
        let api = discovery(ApiVersion::V2);
        let zone = "/v2/projects/p/locations/z";
        let find = |http: &str, path: &str| {
            api.method(http, &format!("{zone}{path}"))
                .map(|m| (m.name.as_str(), m.response.as_deref()))
        };
        assert_eq!(
            find("POST", "/instances/nb:stop"),
            Some(("stop", Some("Operation")))
        );
        assert_eq!(
            find("GET", "/instances/nb"),
            Some(("get", Some("Instance")))
        );
        assert_eq!(
            find("GET", "/instances"),
            Some(("list", Some("ListInstancesResponse")))
        );
        assert_eq!(
            find("GET", "/instances:getConfig"),
            Some(("getConfig", Some("Config")))
        );
        assert_eq!(find("GET", ""), Some(("get", Some("Location"))));
        assert_eq!(find("PUT", "/instances/nb"), None);
        assert_eq!(find("POST", "/instances/nb:explode"), None);
        assert_eq!(find("POST", "/instances/nb"), None);
        assert_eq!(
            api.method("GET", "/v2/projects/p/locations")
                .map(|m| m.name.as_str()),
            Some("list")
        );
    }

    #[test]
    fn path_fields_in_a_body_are_accepted_and_others_are_not() {
        let api = discovery(ApiVersion::V2);
        let stop = api.method_named("instances", "stop").unwrap();
        let name = json!({"name": "projects/p/locations/z/instances/nb"});
        assert!(api.check_request(stop, &name).unwrap().is_empty());
        assert!(api.check_request(stop, &json!({"force": true})).is_err());
        let set = api.method_named("instances", "setIamPolicy").unwrap();
        let body = json!({"resource": "x", "policy": {"bindings": []}});
        assert!(
            api.check_request(set, &body)
                .unwrap()
                .contains_key("policy")
        );
    }
}
