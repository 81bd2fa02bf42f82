//! Criterion micro-benchmarks of the functions' hot paths (`cargo bench -p
//! microbench`): JWT verification with a cached JWKS, Twilio signature
//! validation, CORS preflight handling and the deterministic zip writer.
//! `cargo xtask bench` runs them and reads criterion's estimates.
//!
//! This library holds the inputs the benchmarks share.

use std::io::{Read, Write};
use std::net::TcpListener;

/// Bytes that compress roughly like a stripped static executable (about 2:1
/// with deflate): machine-code-like noise interleaved with repeated tables and
/// zero padding, from a fixed seed so every run zips the same input.
pub fn fake_binary(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: cheap, deterministic, good enough to defeat deflate.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut out = Vec::with_capacity(len);
    let mut block = 0usize;
    while out.len() < len {
        let take = (len - out.len()).min(256);
        match block % 4 {
            // Half the blocks: noise, as dense code and constants are.
            0 | 1 => out.extend((0..take).map(|_| (next() >> 56) as u8)),
            // A quarter: a small repeated alphabet, like symbol/string tables.
            2 => out.extend((0..take).map(|_| b"_ZN4core3fmt9Formatter"[(next() % 22) as usize])),
            // A quarter: padding.
            _ => out.extend(std::iter::repeat_n(0u8, take)),
        }
        block += 1;
    }
    out
}

/// Serves `body` as `application/json` to exactly one HTTP request on a
/// loopback port and returns the URL (`http://127.0.0.1:<port>/.well-known/jwks.json`).
/// The JWT benchmark's verifier fetches its JWKS from here once; every
/// measured verification then uses the cached keys.
pub fn serve_json_once(body: String) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            // The request's content does not matter: there is one document.
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_binary_has_the_requested_length_and_is_deterministic() {
        let a = fake_binary(1_000_003);
        assert_eq!(a.len(), 1_000_003);
        assert_eq!(a, fake_binary(1_000_003));
    }

    #[test]
    fn fake_binary_compresses_about_like_an_executable() {
        let data = fake_binary(1 << 20);
        let zip = lambda_pack::archive::build_zip(
            vec![lambda_pack::archive::Entry::File {
                name: "bootstrap".into(),
                data: data.clone(),
                executable: true,
            }],
            lambda_pack::archive::DosTime::from_unix(315_532_800),
        )
        .unwrap();
        let ratio = zip.len() as f64 / data.len() as f64;
        assert!((0.35..0.75).contains(&ratio), "compression ratio {ratio}");
    }

    #[test]
    fn the_json_server_answers_one_request_with_the_body() {
        let url = serve_json_once("{\"keys\":[]}".into()).unwrap();
        let addr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("{\"keys\":[]}"), "{answer}");
    }
}
