//! The built-in demo site `appnet up` and `appnet http serve` show when no root is configured:
//! a home page, a Korean page, and files for trying ranges and conditional requests.

use std::io;
use std::path::{Path, PathBuf};

const INDEX: &str = "<!DOCTYPE html>
<html><head><meta charset=\"utf-8\"><title>appnet web origin</title></head>
<body>
<h1>appnet web origin</h1>
<p>Served by appnet's HTTP/1.1 server. Try:</p>
<pre>
curl -v http://127.0.0.1:8080/
curl -r 0-99 http://127.0.0.1:8080/files/100k.bin -o part.bin
curl -I -H 'If-None-Match: \"...\"' http://127.0.0.1:8080/
appnet --trace get http://127.0.0.1:8080/
</pre>
<p><a href=\"files/\">files/</a> · <a href=\"%ED%95%9C%EA%B5%AD%EC%96%B4.html\">한국어</a></p>
</body></html>
";

const KOREAN: &str = "<!DOCTYPE html>
<html lang=\"ko\"><head><meta charset=\"utf-8\"><title>안녕하세요</title></head>
<body><h1>안녕하세요, appnet!</h1><p>응용 계층을 직접 실행해 보세요.</p></body></html>
";

/// Writes the demo site under `dir` (created if needed) and returns its path.
pub fn write_demo_site(dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("files"))?;
    std::fs::write(dir.join("index.html"), INDEX)?;
    std::fs::write(dir.join("한국어.html"), KOREAN)?;
    std::fs::write(dir.join("files/hello.txt"), "hello, appnet\n")?;
    let pattern: Vec<u8> = (0..100 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(dir.join("files/100k.bin"), pattern)?;
    Ok(dir.to_path_buf())
}

/// Where the demo site lives unless configured otherwise.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("appnet-www")
}
