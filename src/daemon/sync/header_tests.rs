use super::*;

fn message(version: Version, syncid: u8, nr_conns: u8, body: usize) -> Vec<u8> {
    let size = u16::try_from(version.header_len() + body).unwrap();
    let mut m = encode(&Header {
        version,
        syncid,
        size,
        nr_conns,
    });
    m.resize(usize::from(size), 0xa5);
    m
}

#[test]
fn both_versions_round_trip() {
    for (version, syncid, n, body) in [
        (Version::V1, 7, 1, 36),
        (Version::V1, 255, 40, 1400),
        (Version::V1, 0, 0, 0),
        (Version::V0, 8, 1, 24),
        (Version::V0, 200, 3, 72),
    ] {
        let m = message(version, syncid, n, body);
        let h = parse(&m).unwrap();
        assert_eq!(
            h,
            Header {
                version,
                syncid,
                size: m.len() as u16,
                nr_conns: n
            }
        );
        assert_eq!(&encode(&h)[..], &m[..version.header_len()]);
    }
}

#[test]
fn the_kernels_bytes_read_as_version_1() {
    // reserved 0, syncid 8, size 44, one connection, version 1, spare 0.
    let mut m = vec![0, 8, 0, 44, 1, 1, 0, 0];
    m.resize(44, 0);
    let h = parse(&m).unwrap();
    assert_eq!(
        (h.version, h.syncid, h.size, h.nr_conns),
        (Version::V1, 8, 44, 1)
    );
}

#[test]
fn a_zero_first_byte_without_version_1_is_version_0() {
    // What the kernel does: not (version 1 and spare 0) is the old format.
    let mut m = vec![0, 9, 0, 12, 1, 2, 0, 0, 0, 0, 0, 0];
    assert_eq!(parse(&m).unwrap().version, Version::V0);
    m[5] = 1;
    m[6] = 1; // spare not 0
    assert_eq!(parse(&m).unwrap().version, Version::V0);
    assert_eq!(parse(&[0, 9, 0, 4]).unwrap().version, Version::V0);
}

#[test]
fn malformed_messages_are_typed_errors() {
    assert_eq!(parse(&[]), Err(HeaderError::Short(0)));
    assert_eq!(parse(&[0, 7, 0]), Err(HeaderError::Short(3)));
    // Size says 44, datagram has 8.
    assert_eq!(
        parse(&[0, 7, 0, 44, 1, 1, 0, 0]),
        Err(HeaderError::SizeMismatch { got: 8, said: 44 })
    );
    // Size 0: the length never matches a real datagram.
    assert!(matches!(
        parse(&[0, 7, 0, 0]),
        Err(HeaderError::SizeMismatch { .. })
    ));
    // A count with no connection after the header, either version.
    assert_eq!(
        parse(&[0, 7, 0, 8, 3, 1, 0, 0]),
        Err(HeaderError::EmptyButCounted { nr_conns: 3 })
    );
    assert_eq!(
        parse(&[2, 7, 0, 4]),
        Err(HeaderError::EmptyButCounted { nr_conns: 2 })
    );
}

#[test]
fn no_input_panics_and_accepted_is_consistent() {
    // Every 4-byte prefix pattern with sizes around the header lengths.
    for b0 in [0u8, 1, 255] {
        for len in 0..=12usize {
            for ver in [0u8, 1, 2] {
                let mut m = vec![b0, 5, 0, len as u8, 1, ver, 0, 0, 0, 0, 0, 0];
                m.truncate(len);
                if let Ok(h) = parse(&m) {
                    assert!(usize::from(h.size) >= h.version.header_len());
                    assert_eq!(usize::from(h.size), m.len());
                }
            }
        }
    }
}
