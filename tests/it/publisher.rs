//! The push API's bounded queue: `try_send` returns Full at once, `send` waits.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use framecast::stream::{HubConfig, Processed, Processor, StreamOptions, TrySendError};
use framecast::{Frame, Hub, Result, StreamId};

/// Holds each frame until the test lets it go, so the queue fills deterministically.
struct Gate {
    entered: std_mpsc::Sender<u64>,
    release: Arc<Mutex<std_mpsc::Receiver<()>>>,
}

impl Processor for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    fn process(&mut self, frame: Frame, seq: u64) -> Result<Processed> {
        let _ = self.entered.send(seq);
        let _ = self.release.lock().unwrap().recv();
        Ok(Processed {
            frame: Some(frame),
            metadata: Some(serde_json::json!({"gated": seq})),
        })
    }
}

fn frame() -> Frame {
    Frame::solid(8, 8, [1, 2, 3]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_send_is_full_at_once_and_send_waits_for_room() {
    let hub = Hub::new(HubConfig::default());
    let (entered_tx, entered_rx) = std_mpsc::channel();
    let (release_tx, release_rx) = std_mpsc::channel();
    let gate = Gate {
        entered: entered_tx,
        release: Arc::new(Mutex::new(release_rx)),
    };
    let mut opts = StreamOptions::new("test");
    opts.queue = Some(2);
    opts.processors.push(Box::new(gate));
    let publisher = hub.create(StreamId::parse("q").unwrap(), opts).unwrap();
    let stream = publisher.stream().clone();
    let mut meta = stream.subscribe_metadata();

    // Frame 1 is taken by the processor and held there.
    publisher.send(frame()).await.unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let s = entered_rx.recv_timeout(Duration::from_secs(10));
        (s, entered_rx)
    });
    let (seq, entered_rx) = first.await.unwrap();
    assert_eq!(seq.unwrap(), 1);

    // Two more fill the queue; the next try_send is refused at once.
    publisher.try_send(frame()).unwrap();
    publisher.try_send(frame()).unwrap();
    match publisher.try_send(frame()) {
        Err(TrySendError::Full(f)) => assert_eq!(f.width(), 8, "the frame comes back"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(stream.status().frames_dropped, 1);

    // send() waits while the queue is full...
    let p2 = publisher.clone();
    let waiting = tokio::spawn(async move { p2.send(frame()).await });
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiting.is_finished(),
        "send must wait while the queue is full"
    );

    // ...and completes once the processor lets frames through.
    for _ in 0..4 {
        release_tx.send(()).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("send completes once there is room")
        .unwrap()
        .unwrap();
    drop(entered_rx);
    let m = tokio::time::timeout(Duration::from_secs(10), meta.recv())
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(v["seq"], 1);
    assert_eq!(
        v["data"]["gated"], 1,
        "processor metadata is stamped with its frame"
    );
    let mut sub = stream.subscribe();
    let latest = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let f = sub.next().await.unwrap();
            if f.seq == 4 {
                return f;
            }
        }
    })
    .await
    .expect("all four accepted frames are published");
    assert_eq!(latest.frame.width(), 8);
}

#[tokio::test]
async fn a_slow_subscriber_skips_to_the_latest_frame() {
    let hub = Hub::new(HubConfig::default());
    let p = hub
        .create(StreamId::parse("s").unwrap(), StreamOptions::new("test"))
        .unwrap();
    let mut sub = p.stream().subscribe();
    for _ in 0..5 {
        p.send(frame()).await.unwrap();
    }
    let s = p.stream().clone();
    let ok = tokio::time::timeout(Duration::from_secs(5), async {
        while s.latest().map(|f| f.seq) != Some(5) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(ok.is_ok());
    assert_eq!(
        sub.next().await.unwrap().seq,
        5,
        "no backlog: the newest frame comes next"
    );
}
