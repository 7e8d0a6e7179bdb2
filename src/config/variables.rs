//! The variables the service reads, each declared once with what it does when unset and what
//! it means: the table `--help` prints, the README repeats, and the parser takes its defaults
//! from, so the documented default is the one the service uses.

use crate::profile;
use crate::push_token;
use crate::variable::{Variable, WhenUnset};

/// Declares the service's variables in `--help` order, with the default profile's rows
/// spliced in at `..`: a `const` per variable, named as the variable, and [`VARIABLES`].
macro_rules! service_variables {
    (
        $($first:ident, $first_unset:expr, $first_meaning:literal;)+
        ..$profile:path;
        $($last:ident, $last_unset:expr, $last_meaning:literal;)+
    ) => {
        $(
            #[doc = $first_meaning]
            pub const $first: Variable = Variable {
                name: stringify!($first),
                unset: $first_unset,
                meaning: $first_meaning,
            };
        )+
        $(
            #[doc = $last_meaning]
            pub const $last: Variable = Variable {
                name: stringify!($last),
                unset: $last_unset,
                meaning: $last_meaning,
            };
        )+

        const PARTS: [&[Variable]; 3] = [&[$($first),+], $profile, &[$($last),+]];

        /// Every variable the service reads, in the order `--help` shows them.
        pub const VARIABLES: &[Variable] =
            &concat::<{ PARTS[0].len() + PARTS[1].len() + PARTS[2].len() }>(PARTS);
    };
}

use WhenUnset::{Absent, Decided, Empty, Required, Value};

service_variables! {
    PORT, Value("8080"), "port to listen on";
    HOST, Decided("0.0.0.0; 127.0.0.1 in the demo"),
        "IP address to listen on (the embedded demo answers on the loopback only)";
    GOOGLE_CLOUD_PROJECT, Decided("credentials' project"), "project the instances are created in";
    NOTEBOOKS_EMULATOR_HOST, Absent,
        "host:port of a Notebooks API emulator (plain HTTP, no credentials)";
    NOTEBOOKS_EMULATOR_PROTOCOL, Value("auto"),
        "HTTP to the emulator: auto (h2c if it answers HTTP/2 with prior knowledge, else HTTP/1.1) | h2c | http1";
    NOTEBOOKS_ENDPOINT, Decided("https://notebooks.googleapis.com"),
        "another API endpoint, with credentials";
    NOTEBOOKS_API_VERSION, Value("v2"),
        "v2 (Workbench instances) or v1 (user-managed, create shut down in 2025)";
    ..profile::VARIABLES;
    INSTANCE_ID_PREFIX, Value("notebook"), "prefix of derived ids: PREFIX-yyyymmdd-hhmm-HASH";
    ON_EXISTING, Value("skip"), "fixed id taken by another trigger: skip | replace";
    PUSH_AUTH_AUDIENCE, Absent,
        "audience of the push subscription's OIDC token; set, every request needs a Google-signed token";
    PUSH_AUTH_SERVICE_ACCOUNTS, Required("(required with the audience)"),
        "emails of the service accounts that may push, comma-separated";
    PUSH_AUTH_JWKS_URL, Value(push_token::GOOGLE_JWKS_URL),
        "where the signing keys of push and reader tokens are fetched (tests point it elsewhere)";
    PUSH_AUTH, Absent,
        "off: no token check here, stated explicitly (Cloud Run IAM protects the endpoint)";
    RUNS_READERS, Empty,
        "emails of the accounts that may read GET /runs, comma-separated, checked on Google-signed ID tokens";
    RUNS_OPERATORS, Empty,
        "emails of the accounts that may also rerun, cancel and run now (runs commands with --service, the pages' buttons), comma-separated, checked as RUNS_READERS";
    RUNS_AUTH, Absent,
        "off: GET /runs is not checked here, stated explicitly (Cloud Run IAM alone decides); neither set: 403";
    RUNS_AUTH_AUDIENCE, Value(crate::http::GCLOUD_CLIENT_ID),
        "aud of a reader's signed token in Authorization (default: gcloud's, as print-identity-token gives it)";
    SERVICE_URL, Decided("PUSH_AUTH_AUDIENCE"),
        "this service's URL: where runners report (/runs/ID/complete) and the audience of their tokens";
    RUNNER_SCRIPT, Required("(required to run a notebook)"),
        "gs:// URI of the runner (notebook-trigger runner), the post-startup script of runs";
    STORAGE_EMULATOR_HOST, Decided("https://storage.googleapis.com"),
        "Cloud Storage for run records: an emulator's HOST:PORT, called without credentials";
    ON_COMPLETE, Value("delete"), "what a run's instance becomes after a success: delete | stop | keep";
    ON_FAILURE, Value("stop"),
        "after a failure or time-out: stop (the disk stays for debugging) | delete | keep";
    REPORT_WITHIN, Value("10m"),
        "how long a runner tries to report before it stops its own instance";
    RUN_GRACE, Value("10m"), "time past max_run_time before the reaper stops a run that never reported";
    KEEP_STOPPED, Value("72h"), "how long the reaper keeps a stopped instance before deleting it";
    RUN_LOST_AFTER, Value("1h"), "how long a run may be recorded launched without an instance before the reaper records it lost; longer than POLL_TIMEOUT";
    RUN_EVENTS_TOPIC, Absent,
        "Pub/Sub topic (id or projects/P/topics/T) that gets a message per run event: launched, succeeded, failed, timed_out, cancelled, unreported, lost, skipped, overdue, cleaned_up, retrying";
    PUBSUB_EMULATOR_HOST, Absent, "run events go to this Pub/Sub emulator's HOST:PORT, without credentials";
    RUN_TOKEN_JWKS_URL, Value(push_token::GOOGLE_JWKS_URL),
        "where the keys of runners' identity tokens are fetched (tests point it elsewhere)";
    PROFILES_FILE, Absent,
        "TOML or YAML file of named profiles: a path, or gs://BUCKET/OBJECT read at start-up with the service's credentials";
    ALLOWED_OVERRIDES, Empty,
        "fields a message may override, e.g. machine_type,labels,parameters (dry_run: may ask for a dry run); metadata never admits a reserved key";
    ALLOWED_IMAGE_PREFIXES, Empty,
        "registry paths an overridden container_image must start with, ending in / (required when container_image is allowed)";
    ALLOWED_PARAMETERS, Empty,
        "papermill parameters a message may set, e.g. date,region (none listed: any, once parameters is allowed)";
    MESSAGE_EVENTS, Value("allow"),
        "allow: a message key that is not the product's makes the message an event, the notebook's event parameter | refuse: every such key is refused (400) naming it";
    POLL_TIMEOUT, Value("540s"),
        "longest wait for the create and its operation (keep below the ack deadline)";
    POLL_INITIAL_DELAY, Value("1s"), "first delay between polls (doubles)";
    POLL_MAX_DELAY, Value("15s"), "longest delay between polls";
    HTTP_CONNECT_TIMEOUT, Value("10s"), "connect timeout for API calls";
    HTTP_REQUEST_TIMEOUT, Value("30s"), "timeout of each API call";
    MAX_BODY_BYTES, Value("1048576"), "largest accepted request body (larger: 413)";
    MAX_PAYLOAD_BYTES, Value("65536"),
        "largest message payload once base64 is decoded (larger: 413)";
    MAX_CONCURRENT_LAUNCHES, Value("64"),
        "launches in progress at once, a message's, an operator's or a retry's; beyond it 429 with Retry-After";
    LOG_FORMAT, Decided("json on Cloud Run, else text"), "text | json";
    RUST_LOG, Value("info"), "log filter, e.g. notebook_trigger=debug";
}

/// The parts one after the other, as an array a `const` can hold.
const fn concat<const N: usize>(parts: [&[Variable]; 3]) -> [Variable; N] {
    let mut all = [parts[0][0]; N];
    let mut at = 0;
    let mut part = 0;
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            all[at] = parts[part][i];
            at += 1;
            i += 1;
        }
        part += 1;
    }
    all
}

/// Renders [`VARIABLES`] for `--help`.
pub fn variables_help() -> String {
    let mut text = String::from("Environment variables:\n");
    for v in VARIABLES {
        text.push_str(&format!(
            "  {:<29} {} [default: {}]\n",
            v.name,
            v.meaning,
            v.unset.shown()
        ));
    }
    text
}
