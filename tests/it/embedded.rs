//! framecast's router mounted under another server (`axum::serve`, which
//! hides the `TcpStream` behind its own type): WebSocket viewers take the
//! per-viewer path with copied writes and still get frames, frameinfo,
//! metadata, pongs and a close on shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use framecast::config::Config;
use framecast::server::{app, AppState};
use framecast::StreamId;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const SMALL_PATTERN: &str = "[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 160\nheight = 90\nfps = 30\n";
const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_viewers_work_under_axum_serve() {
    let cfg = Config::from_toml(SMALL_PATTERN).unwrap();
    let server = framecast::Server::new(cfg.clone()).unwrap();
    let hub = server.hub().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(hub.clone(), Arc::new(cfg), addr)
        .await
        .unwrap();
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });

    let url = format!("ws://{addr}/streams/demo/ws?frameinfo=1");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let stream = hub.get(&StreamId::parse("demo").unwrap()).unwrap();
    let mut frames = 0;
    let mut saw_metadata = false;
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let mut saw_pong = false;
    while frames < 5 || !saw_metadata || !saw_pong {
        let m = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .expect("no error");
        match m {
            Message::Text(t) if t.contains("\"frame\"") => {
                let Some(Ok(Message::Binary(jpeg))) = ws.next().await else {
                    panic!("the JPEG follows its frameinfo")
                };
                let (_, w, h) = framecast::codec::jpeg::decode_rgb(&jpeg, usize::MAX).unwrap();
                assert_eq!((w, h), (160, 90));
                frames += 1;
                if frames == 2 {
                    stream
                        .send_metadata(None, serde_json::json!({"n": 1}))
                        .unwrap();
                }
            }
            Message::Text(t) if t.contains("\"metadata\"") => saw_metadata = true,
            Message::Pong(p) => saw_pong = p.as_ref() == b"hi",
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        stream.stats.zero_copy_sends.load(Relaxed),
        0,
        "without a TcpStream, frames are copied"
    );
    hub.shutdown();
    let close = loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("close within 5 s")
        {
            Some(Ok(Message::Close(c))) => break c,
            Some(Ok(_)) => continue,
            other => panic!("a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1001));
}
