//! notebook-trigger: a Pub/Sub push endpoint that launches Vertex AI Workbench instances.
pub mod duration;
pub mod emulator;
pub mod shutdown;
