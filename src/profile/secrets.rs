//! Secret Manager secrets a run's notebook reads as environment variables.
//!
//! An unattended notebook that needs a database password has nowhere else to take it from: a
//! parameter lands in the instance metadata, the run record, the runner's log and the executed
//! notebook. A profile names secrets instead (`secrets = {DB_PASSWORD =
//! "projects/P/secrets/S/versions/latest"}`) and only those names travel: the runner reads each
//! value with the VM's own identity just before papermill starts and hands it to the notebook's
//! kernel as that variable, without ever printing it.
//!
//! A variable's name is upper case letters, digits and `_`, and never one that something
//! between the runner and the notebook already gives a meaning to ([`RESERVED`]): the kernel's
//! start-up (`PATH`, `LD_PRELOAD`, `PYTHONPATH`, …), the runner's shell (`IFS`, `SECONDS`,
//! `BASH_ENV`, …), or Google's libraries and gcloud, which would take their credentials,
//! project or endpoints from it instead of the VM's. A secret there would break every run, or
//! quietly change what runs.
//!
//! A message can never set `secrets`, whatever `ALLOWED_OVERRIDES` says (the payload policy
//! refuses to list it): whoever can publish could otherwise have any secret the VM's account
//! may read put into a notebook of their choosing, or swap which secret a notebook sends where.

use std::collections::BTreeMap;

/// The longest variable name, as for parameter names.
const MAX_NAME: usize = 100;

const PROCESS: &str = "the kernel's processes read it to start, to find programs and libraries, or to pick their locale";
const SHELL: &str = "the runner's shell, which starts the kernel, gives it a meaning of its own";
const GOOGLE: &str = "Google's libraries and gcloud read it for credentials, project or endpoints, which are the VM's";

/// Names no secret may take, with why; a trailing `*` reserves every name with that prefix.
const RESERVED: &[(&str, &[&str])] = &[
    (
        PROCESS,
        &[
            "PATH",
            "HOME",
            "USER",
            "LOGNAME",
            "SHELL",
            "PWD",
            "OLDPWD",
            "TMPDIR",
            "TERM",
            "LANG",
            "LANGUAGE",
            "TZ",
            "LD_*",
            "LC_*",
            "PYTHON*",
            "JUPYTER*",
            "JPY_*",
            "IPYTHON*",
            "PAPERMILL*",
        ],
    ),
    (
        SHELL,
        &[
            "BASH*",
            "ENV",
            "IFS",
            "CDPATH",
            "GLOBIGNORE",
            "SHELLOPTS",
            "SHLVL",
            "POSIXLY_CORRECT",
            "SECONDS",
            "RANDOM",
            "SRANDOM",
            "LINENO",
            "UID",
            "EUID",
            "PPID",
            "GROUPS",
            "OPTIND",
            "OPTARG",
            "OPTERR",
            "PS0",
            "PS1",
            "PS2",
            "PS3",
            "PS4",
            "FUNCNAME",
            "FUNCNEST",
            "PIPESTATUS",
            "DIRSTACK",
            "EPOCHSECONDS",
            "EPOCHREALTIME",
            "HIST*",
            "COMP*",
            "READLINE_*",
            "TIMEFORMAT",
            "TMOUT",
            "EXECIGNORE",
            "HOSTNAME",
            "HOSTTYPE",
            "OSTYPE",
            "MACHTYPE",
        ],
    ),
    (
        GOOGLE,
        &["GOOGLE_*", "CLOUDSDK_*", "GCE_*", "STORAGE_EMULATOR_HOST"],
    ),
];

/// Why `name` cannot name a secret, if it is reserved.
fn reserved(name: &str) -> Option<&'static str> {
    RESERVED.iter().find_map(|(why, patterns)| {
        patterns
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *pattern,
            })
            .then_some(*why)
    })
}

/// Each variable of `secrets` (name → secret version) checked: a name the kernel may be given,
/// and a secret version's full resource name.
pub(super) fn check_secrets(secrets: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, version) in secrets {
        check_name(name)?;
        check_version(version).map_err(|e| format!("`{}`: {e}", name.escape_debug()))?;
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(format!(
            "`{}` is not a variable name for a secret: upper case letters, digits and _, not starting with a digit, at most {MAX_NAME}",
            name.escape_debug()
        ));
    }
    match reserved(name) {
        Some(why) => Err(format!("`{name}` cannot name a secret: {why}")),
        None => Ok(()),
    }
}

/// `projects/PROJECT/secrets/SECRET/versions/VERSION`, as Secret Manager names a version:
/// PROJECT an id or number, SECRET an id (letters, digits, `_`, `-`; at most 255), VERSION a
/// number, `latest` or an alias.
///
/// # Errors
/// A message giving the form expected.
pub fn check_version(text: &str) -> Result<(), String> {
    let within = |text: &str, most: usize, extra: &[char]| {
        (1..=most).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    };
    let ok = match text.split('/').collect::<Vec<_>>()[..] {
        ["projects", project, "secrets", secret, "versions", version] => {
            within(project, 63, &['-'])
                && project == project.to_ascii_lowercase()
                && within(secret, 255, &['-', '_'])
                && within(version, 63, &['-', '_'])
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a secret version: expected projects/PROJECT/secrets/SECRET/versions/VERSION, VERSION a number or latest",
            text.escape_debug()
        ))
    }
}

/// The secret a version belongs to (`projects/P/secrets/S`): IAM grants access per secret.
pub fn secret_of(version: &str) -> &str {
    version
        .rsplit_once("/versions/")
        .map_or(version, |(secret, _)| secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, version: &str) -> Result<(), String> {
        check_secrets(&BTreeMap::from([(name.to_owned(), version.to_owned())]))
    }

    const GOOD: &str = "projects/my-project/secrets/db-password/versions/latest";

    #[test]
    fn names_are_upper_case_variables() {
        for ok in ["DB_PASSWORD", "_X", "API_KEY_2", "TOKEN", "HTTPS_PROXY"] {
            assert_eq!(one(ok, GOOD), Ok(()), "{ok}");
        }
        let long = "A".repeat(101);
        for bad in ["db_password", "1X", "A-B", "", "É", "A B", &long] {
            let error = one(bad, GOOD).unwrap_err();
            assert!(error.contains("not a variable name"), "{bad}: {error}");
        }
    }

    #[test]
    fn reserved_names_say_who_reads_them() {
        for (name, said) in [
            ("PATH", "kernel's processes"),
            ("HOME", "kernel's processes"),
            ("LD_PRELOAD", "kernel's processes"),
            ("PYTHONPATH", "kernel's processes"),
            ("LC_ALL", "locale"),
            ("BASH_ENV", "shell"),
            ("SECONDS", "shell"),
            ("IFS", "shell"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "credentials"),
            ("CLOUDSDK_CORE_PROJECT", "credentials"),
        ] {
            let error = one(name, GOOD).unwrap_err();
            assert!(
                error.contains(&format!("`{name}` cannot name a secret")) && error.contains(said),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn versions_are_full_resource_names() {
        for ok in [
            GOOD,
            "projects/123456789012/secrets/S_1/versions/7",
            "projects/p-1/secrets/a/versions/prod-alias",
        ] {
            assert_eq!(one("X", ok), Ok(()), "{ok}");
        }
        for bad in [
            "db-password",
            "projects/p/secrets/s",
            "projects/p/secrets/s/versions/",
            "projects/P/secrets/s/versions/1",
            "projects/p/secrets/s/versions/1:access",
            "projects/p/secrets/s/versions/1/x",
            "projects/p/locations/l/secrets/s/versions/1",
            "projects/p/secrets/a b/versions/1",
            "projects/p/secrets/s/versions/1\n",
        ] {
            let error = one("X", bad).unwrap_err();
            assert!(
                error.starts_with("`X`: ") && error.contains("not a secret version"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn a_version_belongs_to_its_secret() {
        assert_eq!(secret_of(GOOD), "projects/my-project/secrets/db-password");
    }
}
