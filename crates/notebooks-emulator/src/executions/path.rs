//! Vertex AI's resource paths as far as executions go: the jobs collection, one job, and the
//! location's operations, under `v1` or `v1beta1` (gcloud's `beta workbench executions` and
//! `colab executions` speak the latter, Google's v1 clients the former).

/// Which version of the Vertex AI API a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    V1,
    V1Beta1,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::V1 => "v1",
            Level::V1Beta1 => "v1beta1",
        }
    }

    fn parse(text: &str) -> Option<Level> {
        match text {
            "v1" => Some(Level::V1),
            "v1beta1" => Some(Level::V1Beta1),
            _ => None,
        }
    }

    /// `type.googleapis.com/google.cloud.aiplatform.v1.{message}`, the `@type` of a message of
    /// this version inside a `google.protobuf.Any`.
    pub fn type_url(self, message: &str) -> String {
        format!(
            "type.googleapis.com/google.cloud.aiplatform.{}.{message}",
            self.as_str()
        )
    }
}

/// What a path under a location names.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// `…/notebookExecutionJobs`.
    Jobs,
    /// `…/notebookExecutionJobs/ID`.
    Job { name: String },
    /// `…/operations/ID`, with its custom method (`:cancel`, `:wait`) if any.
    Operation { name: String, verb: Option<String> },
    /// Anything else under `v1beta1` (which only executions use here), or a custom method on
    /// jobs, which Vertex AI does not have.
    Unknown,
}

/// A parsed Vertex AI path.
#[derive(Debug, PartialEq)]
pub struct Parsed {
    pub level: Level,
    /// `projects/P/locations/L`.
    pub parent: String,
    pub target: Target,
}

/// Splits `v1/projects/P/locations/L/notebookExecutionJobs/ID` and its kin; `None` when the
/// path is no Vertex AI path at all (for `v1`, the Notebooks API's paths look alike: see
/// [`super::serves`]).
pub fn parse(path: &str) -> Option<Parsed> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [
        version,
        "projects",
        project,
        "locations",
        location,
        rest @ ..,
    ] = segments.as_slice()
    else {
        return None;
    };
    let level = Level::parse(version)?;
    if project.is_empty() || location.is_empty() {
        return None;
    }
    let parent = format!("projects/{project}/locations/{location}");
    let target = match rest {
        ["notebookExecutionJobs"] => Target::Jobs,
        ["notebookExecutionJobs", id] if !id.is_empty() && !id.contains(':') => Target::Job {
            name: format!("{parent}/notebookExecutionJobs/{id}"),
        },
        ["operations", id] => {
            let (id, verb) = match id.split_once(':') {
                Some((id, verb)) => (id, Some(verb.to_owned())),
                None => (*id, None),
            };
            if id.is_empty() {
                return None;
            }
            Target::Operation {
                name: format!("{parent}/operations/{id}"),
                verb,
            }
        }
        _ if level == Level::V1
            && !rest
                .first()
                .is_some_and(|first| first.starts_with("notebookExecutionJobs")) =>
        {
            return None;
        }
        _ => Target::Unknown,
    };
    Some(Parsed {
        level,
        parent,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_paths_parse_and_notebooks_paths_do_not() {
        let parsed = parse("/v1/projects/p/locations/us-central1/notebookExecutionJobs/j").unwrap();
        assert_eq!(parsed.level, Level::V1);
        assert_eq!(parsed.parent, "projects/p/locations/us-central1");
        assert_eq!(
            parsed.target,
            Target::Job {
                name: "projects/p/locations/us-central1/notebookExecutionJobs/j".into()
            }
        );
        let jobs = parse("/v1beta1/projects/p/locations/r/notebookExecutionJobs").unwrap();
        assert_eq!((jobs.level, jobs.target), (Level::V1Beta1, Target::Jobs));
        let operation = parse("/v1/projects/p/locations/r/operations/42:cancel").unwrap();
        assert_eq!(
            operation.target,
            Target::Operation {
                name: "projects/p/locations/r/operations/42".into(),
                verb: Some("cancel".into())
            }
        );
        let cancel = parse("/v1/projects/p/locations/r/notebookExecutionJobs/j:cancel").unwrap();
        assert_eq!(cancel.target, Target::Unknown);
        assert_eq!(
            parse("/v1beta1/projects/p/locations/r/schedules")
                .unwrap()
                .target,
            Target::Unknown
        );
        for other in [
            "/v1/projects/p/locations/z/instances",
            "/v2/projects/p/locations/z/notebookExecutionJobs",
            "/v1/projects/p/locations",
            "/v1/projects/p/locations/z",
            "/v1/projects/p/locations/z/operations",
            "/v1/projects//locations/r/notebookExecutionJobs",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }
}
