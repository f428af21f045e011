//! The workspace's pinned `uniffi-bindgen` (same UniFFI version as `t2ue-uniffi`, which library
//! mode requires). Usage:
//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libt2ue_uniffi.so --language kotlin --out-dir out`

fn main() {
    uniffi::uniffi_bindgen_main()
}
