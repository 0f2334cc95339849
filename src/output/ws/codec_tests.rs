use super::*;

/// A masked client frame, as a browser would send it.
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![b0];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn feed(r: &mut Reader, bytes: &[u8]) {
    r.buffer().extend_from_slice(bytes);
}

#[test]
fn header_lengths_use_the_shortest_form() {
    for (len, head) in [
        (0usize, vec![0x82, 0]),
        (125, vec![0x82, 125]),
        (126, vec![0x82, 126, 0, 126]),
        (65535, vec![0x82, 126, 0xFF, 0xFF]),
        (65536, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let mut out = BytesMut::new();
        put_header(&mut out, OP_BINARY, len);
        assert_eq!(&out[..], &head[..], "len {len}");
    }
    assert_eq!(&close_frame(1001)[..], &[0x88, 2, 0x03, 0xE9]);
}

#[test]
fn ping_is_unmasked_even_when_split_across_reads() {
    let frame = client_frame(0x80 | OP_PING, b"hello");
    let mut r = Reader::default();
    for b in &frame[..frame.len() - 1] {
        feed(&mut r, &[*b]);
        assert_eq!(r.next_event(), Ok(None));
    }
    feed(&mut r, &frame[frame.len() - 1..]);
    assert_eq!(
        r.next_event(),
        Ok(Some(Event::Ping(Bytes::from_static(b"hello"))))
    );
    assert_eq!(r.next_event(), Ok(None));
}

#[test]
fn data_frames_are_skipped_without_buffering_them() {
    let big = vec![7u8; 200_000];
    let mut bytes = client_frame(0x80 | OP_BINARY, &big);
    bytes.extend(client_frame(0x80 | OP_PONG, b""));
    bytes.extend(client_frame(0x80 | OP_CLOSE, &1000u16.to_be_bytes()));
    let mut r = Reader::default();
    let mut events = vec![];
    for chunk in bytes.chunks(4096) {
        feed(&mut r, chunk);
        while let Some(ev) = r.next_event().unwrap() {
            events.push(ev);
        }
        assert!(r.buf.len() <= 4096 + 139, "buffer grew to {}", r.buf.len());
    }
    assert_eq!(events, vec![Event::Close(Some(1000))]);
}

#[test]
fn protocol_errors_are_reported() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x82, 0x00], "unmasked"),
        (client_frame(0x80 | 0x40 | OP_TEXT, b"x"), "rsv bit"),
        (client_frame(0x80 | 0x3, b""), "opcode 3"),
        (client_frame(OP_PING, b""), "fragmented ping"),
        (client_frame(0x80 | OP_PING, &[0; 126]), "long ping"),
        (client_frame(0x80 | OP_CLOSE, &[3]), "1-byte close"),
    ];
    for (bytes, what) in cases {
        let mut r = Reader::default();
        feed(&mut r, &bytes);
        assert!(r.next_event().is_err(), "{what} should be an error");
    }
}

#[test]
fn empty_close_has_no_code() {
    let mut r = Reader::default();
    feed(&mut r, &client_frame(0x80 | OP_CLOSE, b""));
    assert_eq!(r.next_event(), Ok(Some(Event::Close(None))));
}
