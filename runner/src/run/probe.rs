//! The network checks of `infra.wait`: a TCP connection, or an `http://` GET answered with a
//! 2xx or 3xx status. Plain sockets: a check needs no HTTP client.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Whether `address` (`HOST:PORT`) accepts a TCP connection within `limit`.
pub(crate) async fn tcp(address: &str, limit: Duration) -> Result<(), String> {
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
        Err(_) => Err(format!("no connection to {address} within {limit:?}")),
    }
}

/// Whether `url` (`http://HOST[:PORT][/PATH]`) answers a GET with a 2xx or 3xx status.
pub(crate) async fn http(url: &str, limit: Duration) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("`{url}` is not http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address =
        if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: infra-wait\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("cannot send: {e}"))?;
        let mut head = Vec::new();
        let mut buffer = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < 8192 {
            let n = stream.read(&mut buffer).await.map_err(|e| format!("cannot read: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let line = line.lines().next().unwrap_or_default().to_owned();
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (200..400).contains(&status) {
            Ok(())
        } else if status == 0 {
            Err(format!("{url} did not answer with an HTTP status line"))
        } else {
            Err(format!("{url} answered {status}"))
        }
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer from {url} within {limit:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_and_tcp_checks_see_a_real_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for (i, stream) in listener.incoming().take(3).enumerate() {
                let mut stream = stream.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer);
                let status = if i == 2 { "503 Service Unavailable" } else { "200 OK" };
                let _ = write!(stream, "HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let limit = Duration::from_secs(5);
        assert_eq!(tcp(&address, limit).await, Ok(()));
        assert_eq!(http(&format!("http://{address}/health"), limit).await, Ok(()));
        let answered = http(&format!("http://{address}/"), limit).await;
        assert!(answered.unwrap_err().ends_with("answered 503"));
        server.join().unwrap();
        // Nothing listens there any more.
        assert!(tcp(&address, limit).await.is_err());
    }
}
