//! Where the planned jobs live and what they publish to, checked once so that every command
//! of the plan names the same project, location and full topic name.

use super::SchedulerError;

/// Where the jobs live and what they publish to.
#[derive(Debug, Clone)]
pub struct SchedulerTarget {
    pub project: String,
    pub location: String,
    /// `projects/P/topics/T`.
    pub topic: String,
}

impl SchedulerTarget {
    /// `topic` may be a short name or `projects/P/topics/T` (then P must be `project`: Cloud
    /// Scheduler publishes only to topics of its own project).
    ///
    /// # Errors
    /// [`SchedulerError::Topic`] for a topic of another project or a malformed name.
    pub fn new(project: &str, location: &str, topic: &str) -> Result<Self, SchedulerError> {
        let topic = match topic.strip_prefix("projects/") {
            Some(rest) => match rest.split_once("/topics/") {
                Some((p, t)) if p == project && !t.is_empty() && !t.contains('/') => {
                    topic.to_owned()
                }
                Some((p, _)) if p != project => {
                    return Err(SchedulerError::Topic(format!(
                        "`{topic}` is in project `{p}`; Cloud Scheduler publishes only to topics of its own project `{project}`"
                    )));
                }
                _ => {
                    return Err(SchedulerError::Topic(format!(
                        "`{topic}` is neither a topic id nor projects/P/topics/T"
                    )));
                }
            },
            None if !topic.is_empty() && !topic.contains('/') => {
                format!("projects/{project}/topics/{topic}")
            }
            None => {
                return Err(SchedulerError::Topic(format!(
                    "`{topic}` is neither a topic id nor projects/P/topics/T"
                )));
            }
        };
        Ok(Self {
            project: project.to_owned(),
            location: location.to_owned(),
            topic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_of_another_project_are_refused() {
        assert_eq!(
            SchedulerTarget::new("p", "l", "projects/p/topics/t")
                .expect("same")
                .topic,
            "projects/p/topics/t"
        );
        for bad in ["projects/q/topics/t", "projects/p/subs/t", "", "a/b"] {
            assert!(SchedulerTarget::new("p", "l", bad).is_err(), "{bad}");
        }
    }
}
