//! cargo-fuzz target: the shell-style settings file reader. Must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pcmk_remoted::config::envfile::EnvFile::parse(&text);
});
