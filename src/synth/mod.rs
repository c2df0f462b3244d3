pub fn write_samples(_d: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}
pub fn write_bench(_p: &std::path::Path, _n: u64, _f: u8) -> anyhow::Result<u64> {
    Ok(0)
}
