//! A test plugin: a valid shared library that lacks the entry symbol
//! (its one export is misspelt), as when someone points `path` at the
//! wrong library.

/// Not the entry symbol.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn waihu_plugin_entry_misspelt() -> u32 {
    1
}
