//! The wall clock and randomness, in the forms request signers take.

use crate::bindings::wasi::clocks::wall_clock;
use crate::bindings::wasi::random::random;
use crate::sign::{Nonce, Timestamp};

/// The current time from the host's wall clock. Read it right before
/// signing each attempt.
pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(wall_clock::now().seconds)
}

/// A fresh nonce of 16 bytes from the host's CSPRNG. Signers need a new one
/// on every attempt.
pub fn nonce() -> Nonce {
    let mut nonce = [0u8; 16];
    for (slot, byte) in nonce.iter_mut().zip(random::get_random_bytes(16)) {
        *slot = byte;
    }
    Nonce::from_random_bytes(nonce)
}
