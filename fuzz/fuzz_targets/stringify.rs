//! `shared::ecma::stringify` on arbitrary bytes: no panic, bounded output, and when it
//! succeeds the output is valid JSON that stringifies to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    webhook_fuzz::check_stringify(data);
});
