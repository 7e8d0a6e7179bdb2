//! The variables the service reads, each with its default and meaning: the table `--help`
//! prints and the README repeats, so an operator can configure the service from either.

use crate::push_auth;

/// One documented variable: name, default, meaning. Rendered into `serve --help`.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable the service reads, in the order `--help` shows them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "PORT",
        default: "8080",
        meaning: "port to listen on (0.0.0.0)",
    },
    Variable {
        name: "GOOGLE_CLOUD_PROJECT",
        default: "credentials' project",
        meaning: "project the instances are created in",
    },
    Variable {
        name: "NOTEBOOKS_EMULATOR_HOST",
        default: "-",
        meaning: "host:port of a Notebooks API emulator (HTTP/2 without TLS, no credentials)",
    },
    Variable {
        name: "NOTEBOOKS_ENDPOINT",
        default: "https://notebooks.googleapis.com",
        meaning: "another API endpoint, with credentials",
    },
    Variable {
        name: "NOTEBOOKS_API_VERSION",
        default: "v2",
        meaning: "v2 (Workbench instances) or v1 (user-managed, create shut down in 2025)",
    },
    Variable {
        name: "NOTEBOOK_LOCATION",
        default: "(required)",
        meaning: "zone of the instances, e.g. us-central1-a",
    },
    Variable {
        name: "CONTAINER_IMAGE",
        default: "(required)",
        meaning: "container repository, optionally with :tag",
    },
    Variable {
        name: "CONTAINER_TAG",
        default: "latest",
        meaning: "container tag",
    },
    Variable {
        name: "MACHINE_TYPE",
        default: "n1-standard-4",
        meaning: "machine type",
    },
    Variable {
        name: "POST_STARTUP_SCRIPT",
        default: "-",
        meaning: "gs://BUCKET/script.sh run after start-up",
    },
    Variable {
        name: "POST_STARTUP_SCRIPT_BEHAVIOR",
        default: "-",
        meaning: "run_once | run_every_start | download_and_run_every_start",
    },
    Variable {
        name: "IDLE_TIMEOUT_SECONDS",
        default: "API default (10800)",
        meaning: "idle shutdown after N s (600-86400; 0 disables)",
    },
    Variable {
        name: "INSTANCE_SERVICE_ACCOUNT",
        default: "Compute Engine default",
        meaning: "service account of the instance VM",
    },
    Variable {
        name: "NETWORK",
        default: "-",
        meaning: "VPC network (short name or projects/P/global/networks/N)",
    },
    Variable {
        name: "SUBNET",
        default: "-",
        meaning: "subnetwork (short name or full name)",
    },
    Variable {
        name: "DISABLE_PUBLIC_IP",
        default: "false",
        meaning: "no external IP on the VM",
    },
    Variable {
        name: "ACCELERATOR_TYPE",
        default: "-",
        meaning: "GPU type, e.g. NVIDIA_TESLA_T4",
    },
    Variable {
        name: "ACCELERATOR_COUNT",
        default: "1 with a type",
        meaning: "number of GPUs",
    },
    Variable {
        name: "INSTALL_GPU_DRIVER",
        default: "true with a GPU",
        meaning: "install the GPU driver",
    },
    Variable {
        name: "BOOT_DISK_TYPE",
        default: "API default",
        meaning: "PD_STANDARD | PD_SSD | PD_BALANCED | …",
    },
    Variable {
        name: "BOOT_DISK_SIZE_GB",
        default: "API default (150)",
        meaning: "boot disk size, 150-64000",
    },
    Variable {
        name: "INSTANCE_LABELS",
        default: "-",
        meaning: "extra labels, k=v,k2=v2",
    },
    Variable {
        name: "INSTANCE_METADATA",
        default: "-",
        meaning: "extra metadata, k=v,k2=v2",
    },
    Variable {
        name: "INSTANCE_ID",
        default: "-",
        meaning: "fixed instance id (the seed's behaviour); otherwise derived per message",
    },
    Variable {
        name: "INSTANCE_ID_PREFIX",
        default: "notebook",
        meaning: "prefix of derived ids: PREFIX-yyyymmdd-hhmm-HASH",
    },
    Variable {
        name: "ON_EXISTING",
        default: "skip",
        meaning: "fixed id taken by another trigger: skip | replace",
    },
    Variable {
        name: "PUSH_AUTH_AUDIENCE",
        default: "-",
        meaning: "audience of the push subscription's OIDC token; set, every request needs a Google-signed token",
    },
    Variable {
        name: "PUSH_AUTH_SERVICE_ACCOUNTS",
        default: "(required with the audience)",
        meaning: "emails of the service accounts that may push, comma-separated",
    },
    Variable {
        name: "PUSH_AUTH_JWKS_URL",
        default: push_auth::GOOGLE_JWKS_URL,
        meaning: "where the token signing keys are fetched (tests point it elsewhere)",
    },
    Variable {
        name: "PUSH_AUTH",
        default: "-",
        meaning: "off: no token check here, stated explicitly (Cloud Run IAM protects the endpoint)",
    },
    Variable {
        name: "PROFILES_FILE",
        default: "-",
        meaning: "TOML or YAML file of named profiles",
    },
    Variable {
        name: "ALLOWED_OVERRIDES",
        default: "(none)",
        meaning: "fields a message may override, e.g. machine_type,labels",
    },
    Variable {
        name: "ALLOWED_IMAGE_PREFIXES",
        default: "(none)",
        meaning: "registry paths an overridden container_image must start with, ending in / (required when container_image is allowed)",
    },
    Variable {
        name: "POLL_TIMEOUT",
        default: "540s",
        meaning: "longest wait for the create and its operation (keep below the ack deadline)",
    },
    Variable {
        name: "POLL_INITIAL_DELAY",
        default: "1s",
        meaning: "first delay between polls (doubles)",
    },
    Variable {
        name: "POLL_MAX_DELAY",
        default: "15s",
        meaning: "longest delay between polls",
    },
    Variable {
        name: "HTTP_CONNECT_TIMEOUT",
        default: "10s",
        meaning: "connect timeout for API calls",
    },
    Variable {
        name: "HTTP_REQUEST_TIMEOUT",
        default: "30s",
        meaning: "timeout of each API call",
    },
    Variable {
        name: "MAX_BODY_BYTES",
        default: "1048576",
        meaning: "largest accepted request body (larger: 413)",
    },
    Variable {
        name: "MAX_PAYLOAD_BYTES",
        default: "65536",
        meaning: "largest message payload once base64 is decoded (larger: 413)",
    },
    Variable {
        name: "MAX_CONCURRENT_LAUNCHES",
        default: "64",
        meaning: "launches in progress at once; beyond it 429 with Retry-After",
    },
    Variable {
        name: "LOG_FORMAT",
        default: "json on Cloud Run, else text",
        meaning: "text | json",
    },
    Variable {
        name: "RUST_LOG",
        default: "info",
        meaning: "log filter, e.g. notebook_trigger=debug",
    },
];

/// Renders [`VARIABLES`] for `--help`.
pub fn variables_help() -> String {
    let mut text = String::from("Environment variables:\n");
    for v in VARIABLES {
        text.push_str(&format!(
            "  {:<29} {} [default: {}]\n",
            v.name, v.meaning, v.default
        ));
    }
    text
}
