//! The downloader against a local HTTP server on 127.0.0.1 that serves real MNIST files —
//! the full originals from `CONVNET_DATA` (checked against their published checksums through
//! `download`), or the committed fixtures (checked against their pinned checksums through
//! `download_files`) — intact, corrupted, truncated, or not at all. Only an intact file may end
//! up in place; the others leave no file (and no partial file) behind.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::thread;

use convnet_datasets::cache::{Fetch, locate_in};
use convnet_datasets::catalog::RemoteFile;
use convnet_datasets::{Dataset, DatasetKind, Result, Split, download, download_files};
use convnet_testdata::files_in;
use convnet_testdata::{Part, TestData, fixture_files, test_data};

/// Serves `GET /<mode>/<file>` from `root` until the test process ends. Modes: `good`,
/// `corrupt` (one byte flipped), `truncated` (announces the full length, sends half, closes).
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        // Bounded: the tests make well under 64 requests.
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Drain the request headers.
            let mut h = String::new();
            while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                h.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            let (mode, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let Ok(mut body) = std::fs::read(root.join(name)) else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let full = body.len();
            match mode {
                "corrupt" => body[full / 2] ^= 0x55,
                "truncated" => body.truncate(full / 2),
                _ => {}
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {full}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// The MNIST files the server offers, with the checksums they must have.
fn mnist_files(data: &TestData) -> Vec<RemoteFile> {
    if data.is_full() {
        DatasetKind::Mnist.remote_files().to_vec()
    } else {
        fixture_files("mnist")
            .into_iter()
            .map(|f| RemoteFile {
                name: f.path,
                sha256: f.sha256,
            })
            .collect()
    }
}

/// Downloads MNIST from `base` into `out/mnist/`: through the catalog for the full data, with
/// the fixtures' own checksums otherwise.
fn fetch_mnist(data: &TestData, base: &str, out: &Path) -> Result<Vec<PathBuf>> {
    if data.is_full() {
        download(DatasetKind::Mnist, out, Some(base))
    } else {
        download_files(&mnist_files(data), &out.join("mnist"), base)
    }
}

#[test]
fn intact_files_are_verified_and_placed() {
    let data = test_data();
    let base = serve(data.dir.join("mnist"));
    let out = tempfile::tempdir().unwrap();
    let placed = fetch_mnist(&data, &format!("{base}/good"), out.path()).unwrap();
    assert_eq!(placed.len(), 4);
    let mnist = out.path().join("mnist");
    assert_eq!(
        files_in(&mnist),
        [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    let test = Dataset::load(DatasetKind::Mnist, Split::Test, out.path()).unwrap();
    assert_eq!(test.len(), data.facts("mnist", Part::Test).len);
    // A second run finds the verified files and fetches nothing (the server would corrupt them).
    fetch_mnist(&data, &format!("{base}/corrupt"), out.path()).unwrap();
}

#[test]
fn corrupted_download_is_rejected_and_nothing_is_written() {
    let data = test_data();
    let base = serve(data.dir.join("mnist"));
    let out = tempfile::tempdir().unwrap();
    let e = fetch_mnist(&data, &format!("{base}/corrupt"), out.path())
        .unwrap_err()
        .to_string();
    let first = mnist_files(&data)[0];
    assert_eq!(first.name, "train-images-idx3-ubyte.gz");
    assert!(
        e.contains("train-images-idx3-ubyte.gz: downloaded file has sha256"),
        "{e}"
    );
    assert!(
        e.contains(&format!("expected {}", &first.sha256[..8])),
        "{e}"
    );
    assert!(files_in(&out.path().join("mnist")).is_empty());
}

#[test]
fn truncated_download_is_rejected_and_nothing_is_written() {
    let data = test_data();
    let base = serve(data.dir.join("mnist"));
    let out = tempfile::tempdir().unwrap();
    let e = fetch_mnist(&data, &format!("{base}/truncated"), out.path()).unwrap_err();
    assert!(e.to_string().contains("train-images-idx3-ubyte.gz"), "{e}");
    assert!(files_in(&out.path().join("mnist")).is_empty());
}

#[test]
fn missing_file_on_server_is_an_error_naming_the_url() {
    let base = serve(PathBuf::from("/nonexistent"));
    let out = tempfile::tempdir().unwrap();
    let e = download(
        DatasetKind::FashionMnist,
        out.path(),
        Some(&format!("{base}/good")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("download of http://127.0.0.1") && e.contains("404"),
        "{e}"
    );
    // The built-in digits have nothing to download (and no server is asked).
    assert!(download(DatasetKind::Digits, out.path(), None).is_err());
}

/// A port on 127.0.0.1 with nothing listening.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

#[test]
fn locate_uses_the_cache_downloads_into_it_and_says_why_when_it_cannot() {
    let data = test_data();
    let base = serve(data.dir.join("mnist"));
    let cache = tempfile::tempdir().unwrap();
    let nowhere = Path::new("/nonexistent");
    let mnist = DatasetKind::Mnist;
    let quiet = &mut |_: &str, _: u64, _: Option<u64>| {};

    // Found where the user said: nothing is fetched.
    let here = locate_in(mnist, &data.dir, Some(cache.path()), &Fetch::Offline, quiet).unwrap();
    assert_eq!(here, data.dir);
    // Offline, and in neither place: the error says so and how to get it.
    let e = locate_in(mnist, nowhere, Some(cache.path()), &Fetch::Offline, quiet)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("downloading is off") && e.contains("convnet download mnist"),
        "{e}"
    );
    // No server at all: the error names the address.
    let mirror = Some(format!("{}/good", closed_port()));
    let e = locate_in(
        mnist,
        nowhere,
        Some(cache.path()),
        &Fetch::Download { mirror },
        quiet,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("download of http://127.0.0.1"), "{e}");

    let mut calls = 0;
    let mirror = Some(format!("{base}/good"));
    let got = locate_in(
        mnist,
        nowhere,
        Some(cache.path()),
        &Fetch::Download { mirror },
        &mut |_, _, _| calls += 1,
    );
    if data.is_full() {
        // The real files: verified against the published checksums, left in the cache, and
        // found there next time without any server.
        assert_eq!(got.unwrap(), cache.path());
        assert!(calls > 0, "progress was reported");
        assert_eq!(files_in(&cache.path().join("mnist")).len(), 4);
        let again = locate_in(mnist, nowhere, Some(cache.path()), &Fetch::Offline, quiet);
        assert_eq!(again.unwrap(), cache.path());
    } else {
        // The fixtures are not the published files: refused by checksum, and nothing is left
        // in the cache under the files' names.
        let e = got.unwrap_err().to_string();
        assert!(
            e.contains("train-images-idx3-ubyte.gz: downloaded file has sha256"),
            "{e}"
        );
        assert!(files_in(&cache.path().join("mnist")).is_empty());
    }
}
