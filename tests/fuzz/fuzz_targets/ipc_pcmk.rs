//! cargo-fuzz target: runs of request datagrams through Pacemaker's IPC decoder (both header
//! layouts, bzip2 inflation in slices, reassembly of parts), each message re-encoded and
//! decoded again to the same text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pcmk_remoted::ipc::pcmk::fuzz_decode(data);
});
