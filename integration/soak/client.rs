//! The client (`soak client VIP LONG`), run in the client namespace: LONG
//! long-lived connections to VIP:7000 that talk every second, fresh HTTP
//! requests to VIP:80 and DNS queries to VIP:53 at a steady rate. It prints
//! one line per event on stdout for the harness, which stamps and judges
//! them (the client knows nothing of the chaos):
//!
//!   long-open I REAL            connection I greeted by REAL
//!   long-lost I REAL KIND MS    it ended (eof, reset, timeout, error)
//!   long-stall I REAL MS        an answer took MS > 2000 ms, but came
//!   http ok|fail REAL|REASON    one request
//!   dns ok|fail REAL|REASON     one query

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

/// Long enough that a real held back by the director (deleted behind its
/// back until the next resync, its packets dropped meanwhile) stalls rather
/// than counts as lost: a stall is reported, a loss judged.
const LONG_TIMEOUT: Duration = Duration::from_secs(30);

pub fn main(args: &[String]) -> i32 {
    let [vip, long] = args else {
        eprintln!("usage: soak client VIP LONG");
        return 2;
    };
    let (Ok(vip), Ok(long)) = (vip.parse::<std::net::Ipv4Addr>(), long.parse::<usize>()) else {
        eprintln!("soak client: bad arguments");
        return 2;
    };
    for i in 0..long {
        thread::spawn(move || loop {
            long_lived(i, SocketAddr::from((vip, 7000)));
            thread::sleep(Duration::from_millis(500));
        });
        // Spread the pings over the second.
        thread::sleep(Duration::from_millis(1000 / long.max(1) as u64));
    }
    thread::spawn(move || loop {
        http(SocketAddr::from((vip, 80)));
        thread::sleep(Duration::from_millis(300));
    });
    loop {
        dns(SocketAddr::from((vip, 53)));
        thread::sleep(Duration::from_millis(500));
    }
}

fn kind(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe => "reset",
        WouldBlock | TimedOut => "timeout",
        _ => "error",
    }
}

fn long_lived(i: usize, vip: SocketAddr) {
    let Ok(s) = TcpStream::connect_timeout(&vip, Duration::from_secs(5)) else {
        return; // not established: nothing to lose
    };
    let _ = s.set_read_timeout(Some(LONG_TIMEOUT));
    let Ok(mut w) = s.try_clone() else { return };
    let mut r = BufReader::new(s);
    let mut name = String::new();
    if r.read_line(&mut name).unwrap_or(0) == 0 {
        return;
    }
    let name = name.trim().to_string();
    println!("long-open {i} {name}");
    let mut last_ok = Instant::now();
    loop {
        thread::sleep(Duration::from_secs(1));
        let sent = Instant::now();
        let mut line = String::new();
        let res = w.write_all(b"ping\n").and_then(|_| r.read_line(&mut line));
        let ms = last_ok.elapsed().as_millis();
        match res {
            Ok(0) => return println!("long-lost {i} {name} eof {ms}"),
            Err(e) => return println!("long-lost {i} {name} {} {ms}", kind(&e)),
            Ok(_) if line.trim() != format!("pong {name}") => {
                return println!("long-lost {i} {name} garbled {ms}")
            }
            Ok(_) => {}
        }
        let took = sent.elapsed().as_millis();
        if took > 2000 {
            println!("long-stall {i} {name} {took}");
        }
        last_ok = Instant::now();
    }
}

fn http(vip: SocketAddr) {
    let res = (|| -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&vip, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(8)))?;
        s.write_all(b"GET /who HTTP/1.0\r\nHost: soak\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        Ok(text)
    })();
    match res {
        Ok(t) => match t.split_whitespace().last() {
            Some(name) if t.starts_with("HTTP/1.0 200") => println!("http ok {name}"),
            _ => println!("http fail garbled"),
        },
        Err(e) => println!("http fail {}", kind(&e)),
    }
}

fn dns(vip: SocketAddr) {
    let res = (|| -> std::io::Result<Vec<u8>> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.connect(vip)?;
        // id 0x5a5a, recursion desired, one question: soak.test A IN
        s.send(
            b"\x5a\x5a\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04soak\x04test\x00\x00\x01\x00\x01",
        )?;
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf)?;
        Ok(buf[..n].to_vec())
    })();
    match res {
        Ok(a) if a.len() >= 4 => {
            let ip = &a[a.len() - 4..];
            println!("dns ok {}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
        }
        Ok(_) => println!("dns fail garbled"),
        Err(e) => println!("dns fail {}", kind(&e)),
    }
}
