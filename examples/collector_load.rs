//! Load for `serve`: CLIENTS keep-alive connections, each sending `POST
//! /collect` requests of BATCH page views back to back for SECONDS, as the
//! tracker would; prints one JSON line (events/s, latency percentiles,
//! errors). `tools/bench/collector.sh` runs it against a release `serve`
//! and then checks that every accepted event is in the output.
//!
//! ```sh
//! cargo run --release --example collector_load -- 127.0.0.1:8080 8 10 5
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];

fn body(client: usize, request: usize, batch: usize) -> String {
    let mut out = String::from("[");
    for i in 0..batch {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"type":"page_view","event_id":"{client:04x}-{request:08x}-{i:04x}","ts":{},"url":"https://shop.example.com/p/{}?utm_source=newsletter&utm_medium=email","referrer":"https://www.google.com/","title":"Product {}","language":"en-US","screen":"1920x1080","timezone":"Europe/Berlin"}}"#,
            now_ms(),
            (request + i) % 500,
            (request + i) % 500
        ));
    }
    out.push(']');
    out
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// One client: (latencies in µs, events accepted, errors).
fn client(addr: &str, id: usize, batch: usize, until: Instant) -> (Vec<u32>, usize, usize) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let (mut latencies, mut events, mut errors) = (Vec::new(), 0, 0);
    let mut n = 0;
    while Instant::now() < until {
        let body = body(id, n, batch);
        n += 1;
        let head = format!(
            "POST /collect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\nUser-Agent: {}\r\nOrigin: https://shop.example.com\r\nContent-Length: {}\r\n\r\n",
            AGENTS[(id + n) % AGENTS.len()],
            body.len()
        );
        let started = Instant::now();
        writer.write_all(head.as_bytes()).unwrap();
        writer.write_all(body.as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut rest = vec![0; length];
        reader.read_exact(&mut rest).unwrap();
        latencies.push(started.elapsed().as_micros() as u32);
        if status == 204 {
            events += batch;
        } else {
            errors += 1;
        }
    }
    (latencies, events, errors)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let clients: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|id| {
            let addr = addr.clone();
            std::thread::spawn(move || client(&addr, id, batch, until))
        })
        .collect();
    let (mut latencies, mut events, mut errors) = (Vec::new(), 0, 0);
    for h in handles {
        let (l, e, x) = h.join().unwrap();
        latencies.extend(l);
        events += e;
        errors += x;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    println!(
        r#"{{"clients":{clients},"batch":{batch},"requests":{},"events":{events},"errors":{errors},"events_per_s":{:.0},"p50_ms":{:.2},"p99_ms":{:.2},"max_ms":{:.2}}}"#,
        latencies.len(),
        events as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |&us| us as f64 / 1000.0)
    );
}
