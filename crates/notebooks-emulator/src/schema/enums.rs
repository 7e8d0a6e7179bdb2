//! Enum names and numbers: the proto3 JSON mapping accepts either, and `$alt=json;enum-encoding=int`
//! asks for numbers in the answer, as Google's generated REST clients do on every call.
//!
//! Discovery documents list enum values by name only. For most enums the proto numbers follow
//! that order (index 0 is `*_UNSPECIFIED`); the accelerator types do not, so their numbers are
//! taken from the published protos (`google/cloud/notebooks/{v1,v2}`,
//! `google/cloud/aiplatform/v1/accelerator_type.proto`), which Google's Python and
//! Rust clients carry too. A value the document lists but those protos predate has no number
//! the emulator can vouch for: it is answered by name, which every proto3 JSON parser accepts,
//! and a request cannot name it by number.

use serde_json::Value;

use super::Discovery;

/// Where a field spec keeps its numbers when they do not follow the order of `enum`.
const NUMBERS: &str = "x-enum-numbers";

type Numbers = &'static [(&'static str, i64)];

const V2_ACCELERATOR_TYPES: Numbers = &[
    ("ACCELERATOR_TYPE_UNSPECIFIED", 0),
    ("NVIDIA_TESLA_P100", 2),
    ("NVIDIA_TESLA_V100", 3),
    ("NVIDIA_TESLA_P4", 4),
    ("NVIDIA_TESLA_T4", 5),
    ("NVIDIA_TESLA_A100", 11),
    ("NVIDIA_A100_80GB", 12),
    ("NVIDIA_L4", 13),
    ("NVIDIA_TESLA_T4_VWS", 8),
    ("NVIDIA_TESLA_P100_VWS", 9),
    ("NVIDIA_TESLA_P4_VWS", 10),
];

const V1_ACCELERATOR_TYPES: Numbers = &[
    ("ACCELERATOR_TYPE_UNSPECIFIED", 0),
    ("NVIDIA_TESLA_K80", 1),
    ("NVIDIA_TESLA_P100", 2),
    ("NVIDIA_TESLA_V100", 3),
    ("NVIDIA_TESLA_P4", 4),
    ("NVIDIA_TESLA_T4", 5),
    ("NVIDIA_TESLA_A100", 11),
    ("NVIDIA_TESLA_T4_VWS", 8),
    ("NVIDIA_TESLA_P100_VWS", 9),
    ("NVIDIA_TESLA_P4_VWS", 10),
    ("TPU_V2", 6),
    ("TPU_V3", 7),
];

/// `google.cloud.aiplatform.v1.AcceleratorType`, which Vertex AI's `MachineSpec` uses.
const AIPLATFORM_ACCELERATOR_TYPES: Numbers = &[
    ("ACCELERATOR_TYPE_UNSPECIFIED", 0),
    ("NVIDIA_TESLA_K80", 1),
    ("NVIDIA_TESLA_P100", 2),
    ("NVIDIA_TESLA_V100", 3),
    ("NVIDIA_TESLA_P4", 4),
    ("NVIDIA_TESLA_T4", 5),
    ("TPU_V2", 6),
    ("TPU_V3", 7),
    ("NVIDIA_TESLA_A100", 8),
    ("NVIDIA_A100_80GB", 9),
    ("TPU_V4_POD", 10),
    ("NVIDIA_L4", 11),
    ("TPU_V5_LITEPOD", 12),
    ("NVIDIA_H100_80GB", 13),
    ("NVIDIA_H100_MEGA_80GB", 14),
    ("NVIDIA_H200_141GB", 15),
    ("NVIDIA_B200", 16),
    ("NVIDIA_GB200", 17),
    ("NVIDIA_RTX_PRO_6000", 18),
];

/// The enums (schema, property) whose numbers are not their positions, per proto package.
fn published(package: &str) -> &'static [(&'static str, &'static str, Numbers)] {
    match package {
        "google.cloud.notebooks.v1" => &[("AcceleratorConfig", "type", V1_ACCELERATOR_TYPES)],
        "google.cloud.notebooks.v2" => &[("AcceleratorConfig", "type", V2_ACCELERATOR_TYPES)],
        "google.cloud.aiplatform.v1" => &[(
            "GoogleCloudAiplatformV1MachineSpec",
            "acceleratorType",
            AIPLATFORM_ACCELERATOR_TYPES,
        )],
        _ => &[],
    }
}

/// Writes the published numbers into the field specs that need them, aligned with `enum`.
pub(super) fn annotate(doc: &mut Value, package: &str) {
    for (schema, property, numbers) in published(package) {
        let spec = &mut doc["schemas"][*schema]["properties"][*property];
        let aligned: Vec<Value> = spec["enum"]
            .as_array()
            .expect("the vendored discovery document has this enum")
            .iter()
            .map(|name| {
                numbers
                    .iter()
                    .find(|(known, _)| name == known)
                    .map_or(Value::Null, |(_, number)| Value::from(*number))
            })
            .collect();
        spec[NUMBERS] = Value::Array(aligned);
    }
}

/// The number of enum value `name` in field `spec`, if it has one.
fn number(spec: &Value, name: &str) -> Option<i64> {
    let index = spec["enum"].as_array()?.iter().position(|n| n == name)?;
    match spec.get(NUMBERS) {
        Some(numbers) => numbers[index].as_i64(),
        None => i64::try_from(index).ok(),
    }
}

/// The enum value numbered `number` in field `spec`.
pub(super) fn name(spec: &Value, number: i64) -> Option<&str> {
    let names = spec["enum"].as_array()?;
    let index = match spec.get(NUMBERS) {
        Some(numbers) => numbers.as_array()?.iter().position(|n| *n == number)?,
        None => usize::try_from(number).ok()?,
    };
    names.get(index)?.as_str()
}

impl Discovery {
    /// Rewrites the enum values in `value`, a message of `schema`, as numbers, descending into
    /// `google.protobuf.Any` fields (an operation's `response` and `metadata`) by their `@type`.
    pub fn encode_enums(&self, schema: &str, value: &mut Value) {
        let properties = &self.schema(schema)["properties"];
        for (key, field) in value.as_object_mut().into_iter().flatten() {
            if let Some(spec) = properties.get(key) {
                self.encode_field(spec, field);
            }
        }
    }

    fn encode_field(&self, spec: &Value, value: &mut Value) {
        if let Some(reference) = spec["$ref"].as_str() {
            return self.encode_enums(reference, value);
        }
        match spec["type"].as_str() {
            Some("array") => {
                for item in value.as_array_mut().into_iter().flatten() {
                    self.encode_field(&spec["items"], item);
                }
            }
            Some("object") if spec["additionalProperties"]["type"] == "any" => {
                let prefix = format!("type.googleapis.com/{}.", self.proto_package);
                let message = value["@type"]
                    .as_str()
                    .and_then(|url| url.strip_prefix(&prefix))
                    .map(|message| format!("{}{message}", self.schema_prefix))
                    .filter(|schema| self.doc["schemas"].get(schema).is_some());
                if let Some(message) = message {
                    self.encode_enums(&message, value);
                }
            }
            Some("object") => {
                for entry in value.as_object_mut().into_iter().flatten() {
                    self.encode_field(&spec["additionalProperties"], entry.1);
                }
            }
            Some("string") => {
                if let Some(number) = value.as_str().and_then(|name| number(spec, name)) {
                    *value = Value::from(number);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::discovery;
    use super::*;
    use crate::ApiVersion;

    #[test]
    fn numbers_follow_the_document_except_where_the_protos_say_otherwise() {
        let api = discovery(ApiVersion::V2);
        let disk = &api.schema("BootDisk")["properties"]["diskType"];
        assert_eq!(number(disk, "DISK_TYPE_UNSPECIFIED"), Some(0));
        assert_eq!(number(disk, "PD_SSD"), Some(2));
        assert_eq!(name(disk, 3), Some("PD_BALANCED"));
        let accelerator = &api.schema("AcceleratorConfig")["properties"]["type"];
        assert_eq!(number(accelerator, "NVIDIA_TESLA_T4"), Some(5));
        assert_eq!(number(accelerator, "NVIDIA_TESLA_T4_VWS"), Some(8));
        assert_eq!(name(accelerator, 11), Some("NVIDIA_TESLA_A100"));
        assert_eq!(number(accelerator, "NVIDIA_H100_80GB"), None);
        assert_eq!(name(accelerator, 1), None);
        let v1 = discovery(ApiVersion::V1);
        let accelerator = &v1.schema("AcceleratorConfig")["properties"]["type"];
        assert_eq!(number(accelerator, "TPU_V3"), Some(7));
    }

    #[test]
    fn every_published_number_names_a_value_of_the_document() {
        let apis = [
            discovery(ApiVersion::V1),
            discovery(ApiVersion::V2),
            super::super::aiplatform(),
        ];
        for api in apis {
            for (schema, property, numbers) in published(api.proto_package) {
                let spec = &api.schema(schema)["properties"][*property];
                for (known, value) in *numbers {
                    assert_eq!(number(spec, known), Some(*value), "{known}");
                }
            }
        }
    }

    #[test]
    fn answers_carry_numbers_down_to_operation_responses() {
        let api = discovery(ApiVersion::V2);
        let mut operation = json!({
            "name": "op",
            "response": {
                "@type": "type.googleapis.com/google.cloud.notebooks.v2.Instance",
                "state": "ACTIVE",
                "healthState": "HEALTHY",
                "labels": {"state": "ACTIVE"},
                "gceSetup": {
                    "bootDisk": {"diskType": "PD_SSD"},
                    "acceleratorConfigs": [{"type": "NVIDIA_TESLA_T4"}, {"type": "NVIDIA_B200"}],
                },
            },
        });
        api.encode_enums("Operation", &mut operation);
        let response = &operation["response"];
        assert_eq!(response["state"], 3);
        assert_eq!(response["healthState"], 1);
        assert_eq!(response["labels"]["state"], "ACTIVE");
        assert_eq!(response["gceSetup"]["bootDisk"]["diskType"], 2);
        assert_eq!(response["gceSetup"]["acceleratorConfigs"][0]["type"], 5);
        assert_eq!(
            response["gceSetup"]["acceleratorConfigs"][1]["type"],
            "NVIDIA_B200"
        );
    }
}
