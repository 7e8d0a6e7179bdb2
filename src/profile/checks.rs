//! Single-value checks: whether one text is a form the Notebooks API accepts.
//!
//! Each check knows one rule (a zone, a tag, a Cloud Storage URI, …) and says in its message
//! what was expected; the caller (`spec`, `run`) names the field. Kept apart so the rules can
//! be read without the layering around them, and so that they take and return plain values
//! only: this module depends on no other part of the profile.

/// Accelerator types the v2 API lists (discovery `AcceleratorConfig.type`).
pub(super) const ACCELERATOR_TYPES: &[&str] = &[
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_TESLA_T4_VWS",
    "NVIDIA_TESLA_P100_VWS",
    "NVIDIA_TESLA_P4_VWS",
    "NVIDIA_B200",
    "NVIDIA_RTX6000",
];

/// Disk types the v2 API lists (discovery `BootDisk.diskType`).
pub(super) const DISK_TYPES: &[&str] = &[
    "PD_STANDARD",
    "PD_SSD",
    "PD_BALANCED",
    "PD_EXTREME",
    "HYPERDISK_BALANCED",
    "HYPERDISK_EXTREME",
    "HYPERDISK_THROUGHPUT",
    "HYPERDISK_BALANCED_HIGH_AVAILABILITY",
    "HYPERDISK_ML",
];

pub(super) fn parse_zone(text: &str) -> Result<String, String> {
    let ok = text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && text.split('-').count() >= 3
        && text
            .rsplit('-')
            .next()
            .is_some_and(|z| z.len() == 1 && z.chars().all(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a zone: Workbench instances live in a zone such as us-central1-a, not a region"
        ))
    }
}

/// `repo[:tag]`; a digest cannot be expressed in the API's `ContainerImage`.
pub(super) fn split_image(image: &str) -> Result<(String, Option<String>), String> {
    if image.is_empty() || image.chars().any(char::is_whitespace) || image.contains("://") {
        return Err(format!(
            "`{image}` is not a container repository (expected e.g. us-docker.pkg.dev/PROJECT/REPO/IMAGE, no scheme)"
        ));
    }
    if image.contains('@') {
        return Err(format!(
            "`{image}` names a digest; the Notebooks API takes a repository and a tag"
        ));
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => {
            let repository = &image[..image.len() - tag.len() - 1];
            Ok((repository.to_owned(), Some(tag.to_owned())))
        }
        None => Ok((image.to_owned(), None)),
    }
}

pub(super) fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = tag.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "`{tag}` is not a container tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        ))
    }
}

pub(super) fn check_machine_type(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a machine type (expected e.g. n1-standard-4, e2-highmem-8)"
        ))
    }
}

/// `gs://bucket/object`: Workbench only runs post-startup scripts from Cloud Storage.
pub fn check_gcs_uri(text: &str) -> Result<(), String> {
    let ok = text.strip_prefix("gs://").is_some_and(|rest| {
        rest.split_once('/').is_some_and(|(bucket, object)| {
            bucket.len() >= 3
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
                && !object.is_empty()
                && !object.chars().any(|c| c.is_control())
        })
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a Cloud Storage object URI (expected gs://BUCKET/path/script.sh)"
        ))
    }
}

pub(super) fn check_service_account(text: &str) -> Result<(), String> {
    match text.split_once('@') {
        Some((name, domain))
            if !name.is_empty()
                && domain.contains('.')
                && !text.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{text}` is not a service account email (expected NAME@PROJECT.iam.gserviceaccount.com)"
        )),
    }
}

/// Short names become full resource names under `prefix`, as gcloud does.
pub(super) fn expand_resource(text: &str, prefix: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{text}` is not a resource name"));
    }
    if text.starts_with("projects/") {
        Ok(text.to_owned())
    } else if text.contains('/') {
        Err(format!(
            "`{text}` is neither a short name nor a full name starting with projects/"
        ))
    } else {
        Ok(format!("{prefix}{text}"))
    }
}
