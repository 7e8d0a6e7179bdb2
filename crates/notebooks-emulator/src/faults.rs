//! A deterministic fault plan: which requests fail and which operations end in error.
//!
//! Retry and backoff code is only trustworthy if its failures can be replayed. Every decision is
//! therefore a pure function of `--seed` and something the test controls (the request's position
//! in the arrival order, or the instance name), never a global random generator: the same seed
//! and the same request sequence give the same faults on every run and every machine.

use super::status::{ApiError, Code};

/// Sebastiano Vigna's splitmix64 finaliser: cheap, stateless, and well mixed even for
/// consecutive inputs, which is exactly what request counters are.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Maps a hash to [0, 1) using its top 53 bits, the precision of an f64 mantissa.
fn unit_interval(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a, so that string keys (instance names) feed the same mixer as counters.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Decides whether the `index`-th API request (0-based, in arrival order) fails before it
/// touches any state, and how: Google front ends shed load with both 503 and 429.
pub fn request_fault(seed: u64, index: u64, rate: f64) -> Option<ApiError> {
    let hash = splitmix64(seed ^ splitmix64(index));
    if unit_interval(hash) >= rate {
        return None;
    }
    Some(if splitmix64(hash) & 1 == 0 {
        ApiError::new(Code::Unavailable, "The service is currently unavailable.")
    } else {
        ApiError::new(
            Code::ResourceExhausted,
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service \
             'notebooks.googleapis.com'.",
        )
    })
}

/// Decides whether the operation `verb` on instance `name` ends with an error. Keyed by name so
/// that a test can predict, and a retry with a fresh instance id can escape, a failure.
pub fn operation_fails(seed: u64, verb: &str, name: &str, rate: f64) -> bool {
    let hash = splitmix64(seed ^ splitmix64(fnv1a(verb) ^ splitmix64(fnv1a(name))));
    unit_interval(hash) < rate
}

/// The error a failing operation reports, worded like the real service for each code.
pub fn operation_error(code: Code, name: &str) -> ApiError {
    let message = match code {
        Code::ResourceExhausted => format!(
            "Quota exceeded for quota metric 'CPUS' and limit 'CPUS-per-project-region' of service \
             'compute.googleapis.com' while creating {name}."
        ),
        Code::InvalidArgument => format!("Invalid machine configuration for {name}."),
        Code::FailedPrecondition => {
            format!("The resource {name} is not in a state that allows this operation.")
        }
        Code::PermissionDenied => format!(
            "Permission denied: the service account cannot act on {name} (iam.serviceAccounts.actAs)."
        ),
        other => format!("Operation on {name} failed with {}.", other.name()),
    };
    ApiError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(seed: u64, rate: f64, n: u64) -> Vec<Option<Code>> {
        (0..n)
            .map(|i| request_fault(seed, i, rate).map(|e| e.code))
            .collect()
    }

    #[test]
    fn same_seed_gives_the_same_sequence_and_another_seed_another() {
        assert_eq!(plan(7, 0.3, 500), plan(7, 0.3, 500));
        assert_ne!(plan(7, 0.3, 500), plan(8, 0.3, 500));
    }

    #[test]
    fn rate_zero_never_and_rate_one_always_fails() {
        assert!(plan(1, 0.0, 10_000).iter().all(Option::is_none));
        assert!(plan(1, 1.0, 10_000).iter().all(Option::is_some));
        assert!(!(0..1000).any(|i| operation_fails(3, "create", &format!("i-{i}"), 0.0)));
        assert!((0..1000).all(|i| operation_fails(3, "create", &format!("i-{i}"), 1.0)));
    }

    #[test]
    fn rate_is_honoured_and_both_fault_kinds_occur() {
        let faults: Vec<Code> = plan(42, 0.1, 10_000).into_iter().flatten().collect();
        assert!(
            (900..=1100).contains(&faults.len()),
            "{} faults",
            faults.len()
        );
        let unavailable = faults.iter().filter(|c| **c == Code::Unavailable).count();
        assert!(
            (350..=650).contains(&unavailable),
            "{unavailable} of {}",
            faults.len()
        );
        let failing = (0..10_000)
            .filter(|i| operation_fails(42, "create", &format!("projects/p/instances/i-{i}"), 0.1))
            .count();
        assert!(
            (900..=1100).contains(&failing),
            "{failing} failing operations"
        );
    }

    #[test]
    fn operation_failure_is_keyed_by_seed_verb_and_name() {
        let names: Vec<String> = (0..200).map(|i| format!("n-{i}")).collect();
        let pick = |seed, verb| {
            names
                .iter()
                .map(|n| operation_fails(seed, verb, n, 0.5))
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(1, "create"), pick(1, "create"));
        assert_ne!(pick(1, "create"), pick(2, "create"));
        assert_ne!(pick(1, "create"), pick(1, "stop"));
    }

    #[test]
    fn quota_failure_reads_like_compute_engine() {
        let error = operation_error(
            Code::ResourceExhausted,
            "projects/p/locations/z/instances/i",
        );
        assert!(
            error
                .message
                .starts_with("Quota exceeded for quota metric 'CPUS'")
        );
        assert_eq!(error.to_rpc_status()["code"], 8);
    }
}
