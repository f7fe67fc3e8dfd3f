// Shared by the targets whose readers take a path: one scratch file per fuzzing process, in
// memory-backed /dev/shm when there is one.
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn scratch(bytes: &[u8], name: &str) -> &'static std::path::Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("convnet-fuzz-{}-{name}", std::process::id()))
    });
    std::fs::write(path, bytes).expect("the scratch file can be written");
    path
}
