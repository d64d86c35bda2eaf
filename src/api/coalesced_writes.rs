//! gRPC connections whose writes are gathered into few socket writes.
//!
//! HTTP/2 (the `h2` crate) writes every DATA frame of more than 256 bytes with its own `writev`,
//! and tokio runs a connection's task right after the stream task that woke it (its LIFO slot),
//! so an event fanned out to a hundred streams of one connection left as about a hundred small
//! socket writes, each paid for in kernel time by the gateway and by the subscriber.
//! [`CoalescedWrites`] buffers what the connection writes and defers the first flush of every
//! batch by one turn of the scheduler: the task is woken at once but placed behind the tasks
//! already queued (the stream tasks woken by the same event), which add their frames to the
//! buffer; the next flush sends them all in one write. Nothing waits on a timer, and a full
//! buffer is written at once.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, BufWriter, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Bytes buffered per connection before a write is forced.
const BUFFER_BYTES: usize = 64 * 1024;

/// A connection that gathers its writes (see the module documentation).
#[derive(Debug)]
pub(crate) struct CoalescedWrites<T> {
    io: BufWriter<T>,
    /// Set when a flush was deferred; the next flush writes.
    deferred: bool,
}

impl<T: AsyncWrite> CoalescedWrites<T> {
    /// Wraps `io`.
    pub(crate) fn new(io: T) -> Self {
        Self {
            io: BufWriter::with_capacity(BUFFER_BYTES, io),
            deferred: false,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for CoalescedWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.io.buffer().is_empty() && !self.deferred {
            // Woken while running, a tokio task is queued behind the tasks already waiting.
            self.deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        self.deferred = false;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Connected for CoalescedWrites<TcpStream> {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.get_ref().connect_info()
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Flushes `connection`; returns how many times the flush was polled.
    async fn flush_counting_polls<T: AsyncWrite + Unpin>(
        connection: &mut CoalescedWrites<T>,
    ) -> usize {
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            Pin::new(&mut *connection).poll_flush(cx)
        })
        .await
        .unwrap();
        polls
    }

    /// Reads exactly `len` bytes from the far end.
    async fn received(far: &mut tokio::io::DuplexStream, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        far.read_exact(&mut bytes).await.unwrap();
        bytes
    }

    #[tokio::test]
    async fn writes_wait_for_the_flush_and_leave_together() {
        let (near, mut far) = tokio::io::duplex(BUFFER_BYTES * 2);
        let mut connection = CoalescedWrites::new(near);

        connection.write_all(b"first ").await.unwrap();
        connection.write_all(b"second").await.unwrap();
        let mut nothing_yet = [0; 1];
        let early = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            far.read(&mut nothing_yet),
        )
        .await;
        assert!(early.is_err(), "nothing is written before a flush");

        connection.flush().await.unwrap();
        assert_eq!(received(&mut far, 12).await, b"first second");
    }

    #[tokio::test]
    async fn the_first_flush_of_a_batch_yields_once_and_the_next_writes() {
        let (near, mut far) = tokio::io::duplex(BUFFER_BYTES * 2);
        let mut connection = CoalescedWrites::new(near);
        connection.write_all(b"frame").await.unwrap();

        assert_eq!(
            flush_counting_polls(&mut connection).await,
            2,
            "deferred once, then written"
        );
        assert_eq!(received(&mut far, 5).await, b"frame");
        // Nothing buffered: a flush passes straight through.
        assert_eq!(flush_counting_polls(&mut connection).await, 1);
    }

    #[tokio::test]
    async fn a_deferred_flush_lets_the_tasks_already_queued_run_first() {
        let (near, mut far) = tokio::io::duplex(BUFFER_BYTES * 2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let connection = tokio::spawn({
            let order = Arc::clone(&order);
            async move {
                let mut connection = CoalescedWrites::new(near);
                connection.write_all(b"frame").await.unwrap();
                order.lock().push("buffered");
                connection.flush().await.unwrap();
                order.lock().push("written");
            }
        });
        // Queued behind the connection's task, as the other woken streams are.
        let stream = tokio::spawn({
            let order = Arc::clone(&order);
            async move { order.lock().push("queued task ran") }
        });

        connection.await.unwrap();
        stream.await.unwrap();

        assert_eq!(
            *order.lock(),
            vec!["buffered", "queued task ran", "written"]
        );
        assert_eq!(received(&mut far, 5).await, b"frame");
    }

    #[tokio::test]
    async fn a_full_buffer_is_written_without_a_flush() {
        let (near, mut far) = tokio::io::duplex(BUFFER_BYTES * 4);
        let mut connection = CoalescedWrites::new(near);

        connection
            .write_all(&vec![7; BUFFER_BYTES + 1])
            .await
            .unwrap();

        let written = received(&mut far, BUFFER_BYTES).await;
        assert!(written.iter().all(|byte| *byte == 7));
    }
}
