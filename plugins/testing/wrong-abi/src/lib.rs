//! A test plugin that says it was built for an ABI version no host
//! speaks. It writes no table: a host must check the version before it
//! reads one, since another version's table may have another layout.

/// Claims ABI version 999.
///
/// # Safety
/// Writes nothing; any pointer will do.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn waihu_plugin_entry(
    _table: *mut *const waihu_plugin_abi::abi::WaihuPluginTable,
) -> u32 {
    waihu_plugin_abi::ABI_VERSION + 998
}
