//! Batched UDP for busy servers: receive many datagrams with one `recvmmsg(2)` and send many
//! replies with one `sendmmsg(2)` (Linux), so a server under load pays one system call per batch
//! instead of two per query. The unsafe code is confined here, behind two safe functions.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per system call. NSD uses 100; 32 already makes the per-call cost small.
pub const BATCH: usize = 32;
/// Room for one query. DNS queries are small (one question, perhaps an OPT record); a longer
/// datagram is cut here and then fails to decode, which answers it with FORMERR.
const SLOT: usize = 4096;

/// Receive buffers for one batch, reused from call to call.
pub struct RecvBatch {
    buffers: Vec<[u8; SLOT]>,
    received: Vec<(usize, SocketAddr)>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            buffers: vec![[0; SLOT]; BATCH],
            received: Vec::with_capacity(BATCH),
        }
    }
}

impl RecvBatch {
    /// The datagrams of the last receive, with their senders.
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.received
            .iter()
            .zip(&self.buffers)
            .map(|(&(len, peer), buffer)| (&buffer[..len.min(SLOT)], peer))
    }
}

/// Waits for at least one datagram (or the socket's read timeout), then takes as many as are
/// queued, up to [`BATCH`]. Returns how many arrived.
pub fn recv_batch(socket: &UdpSocket, batch: &mut RecvBatch) -> io::Result<usize> {
    batch.received.clear();
    // SAFETY: all-zero bytes are valid for these plain C structs.
    let mut addresses: [libc::sockaddr_storage; BATCH] = unsafe { mem::zeroed() };
    let mut iovecs: Vec<libc::iovec> = batch
        .buffers
        .iter_mut()
        .map(|buffer| libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: SLOT,
        })
        .collect();
    // SAFETY: as above.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
    for ((header, iovec), address) in headers.iter_mut().zip(&mut iovecs).zip(&mut addresses) {
        header.msg_hdr.msg_name = (address as *mut libc::sockaddr_storage).cast();
        header.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        header.msg_hdr.msg_iov = iovec;
        header.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at a live buffer of SLOT bytes and a sockaddr_storage, all of
    // which outlive the call; the kernel writes at most that much into each.
    let count = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    for (header, address) in headers.iter().zip(&addresses).take(count as usize) {
        if let Some(peer) = to_socket_addr(address) {
            batch.received.push((header.msg_len as usize, peer));
        }
    }
    Ok(batch.received.len())
}

/// Sends every reply, in as few system calls as the kernel allows. Replies the kernel refuses
/// (an unreachable peer, a full buffer) are skipped: UDP promises nothing, and one bad peer
/// must not hold up the others.
pub fn send_batch(socket: &UdpSocket, replies: &[(&[u8], SocketAddr)]) {
    let mut sent = 0;
    while sent < replies.len() {
        match send_some(socket, &replies[sent..]) {
            Ok(0) | Err(_) => sent += 1,
            Ok(count) => sent += count,
        }
    }
}

fn send_some(socket: &UdpSocket, replies: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    let replies = &replies[..replies.len().min(BATCH)];
    let addresses: Vec<(libc::sockaddr_storage, libc::socklen_t)> =
        replies.iter().map(|&(_, peer)| to_sockaddr(peer)).collect();
    let mut iovecs: Vec<libc::iovec> = replies
        .iter()
        .map(|&(bytes, _)| libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        })
        .collect();
    // SAFETY: all-zero bytes are valid for mmsghdr.
    let mut headers: Vec<libc::mmsghdr> = (0..replies.len())
        .map(|_| unsafe { mem::zeroed() })
        .collect();
    for ((header, iovec), (address, len)) in headers.iter_mut().zip(&mut iovecs).zip(&addresses) {
        header.msg_hdr.msg_name = (address as *const libc::sockaddr_storage).cast_mut().cast();
        header.msg_hdr.msg_namelen = *len;
        header.msg_hdr.msg_iov = iovec;
        header.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the headers point at the reply bytes and addresses, which outlive the call; the
    // kernel only reads them.
    let count = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            headers.len() as libc::c_uint,
            0,
        )
    };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(count as usize)
}

fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in, which it is large
            // enough and aligned for.
            let v4 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_sockaddr(address: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are valid for sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match address {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_batch_of_datagrams_goes_out_and_comes_back() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        for i in 0..5u8 {
            client
                .send_to(&[i; 3], server.local_addr().unwrap())
                .unwrap();
        }
        let mut batch = RecvBatch::default();
        let mut seen = Vec::new();
        while seen.len() < 5 {
            recv_batch(&server, &mut batch).unwrap();
            seen.extend(
                batch
                    .datagrams()
                    .map(|(bytes, peer)| (bytes.to_vec(), peer)),
            );
        }
        assert!(
            seen.iter()
                .all(|(_, peer)| *peer == client.local_addr().unwrap())
        );
        assert_eq!(
            seen.iter().map(|(bytes, _)| bytes[0]).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );

        let replies: Vec<(&[u8], SocketAddr)> = seen
            .iter()
            .map(|(bytes, peer)| (&bytes[..], *peer))
            .collect();
        send_batch(&server, &replies);
        let mut buf = [0u8; 16];
        for i in 0..5u8 {
            let (len, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(
                (&buf[..len], from),
                (&[i; 3][..], server.local_addr().unwrap())
            );
        }
    }

    #[test]
    fn ipv6_addresses_survive_the_conversion() {
        let address: SocketAddr = "[2001:db8::1]:5353".parse().unwrap();
        let (storage, _) = to_sockaddr(address);
        assert_eq!(to_socket_addr(&storage), Some(address));
    }
}
