//! Alert adapters: turn alert formats into the observations the engine
//! acts on. Each adapter parses one format, tolerates the variations real
//! sensors emit, and says precisely what was wrong with a record it cannot
//! read. It must not decide what to do about an alert; that is the engine's
//! job.

pub mod suricata;
