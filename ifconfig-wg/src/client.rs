//! Talking to wgd: one request, one reply, over the control socket.

use proto::errno::describe as strerror;
use proto::wire::{read_message, write_message, Message, WireError, MAX_RESPONSE};
use proto::Request;
use std::io::{self, BufReader};
use std::os::unix::net::UnixStream;

pub enum ClientError {
    /// The daemon is not there.
    Connect(io::Error),
    /// The daemon refused: errno.
    Errno(i32),
    /// The daemon refused and said why (a host name that does not
    /// resolve: its message is the whole error).
    Said(String),
    /// The conversation broke.
    Protocol(String),
}

pub struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    pub fn connect(path: &str) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(ClientError::Connect)?;
        let reader = BufReader::new(stream.try_clone().map_err(ClientError::Connect)?);
        Ok(Client { stream, reader })
    }

    /// Send a request; the reply without its `errno=` line, or the errno.
    pub fn call(&mut self, req: &Request) -> Result<Message, ClientError> {
        let broken = |e: String| ClientError::Protocol(e);
        write_message(&mut self.stream, &req.encode()).map_err(|e| broken(strerror(&e)))?;
        let mut msg = match read_message(&mut self.reader, MAX_RESPONSE, MAX_RESPONSE) {
            Ok(Some(m)) => m,
            Ok(None) | Err(WireError::Truncated) => return Err(broken("connection closed".into())),
            Err(WireError::Io(e)) => return Err(broken(strerror(&e))),
            Err(_) => return Err(broken("malformed reply".into())),
        };
        match msg.pop() {
            Some((k, v)) if k == "errno" => match v.parse::<i32>() {
                Ok(0) => Ok(msg),
                Ok(n) => match msg.iter().find(|(k, _)| k == "error") {
                    Some((_, why)) => Err(ClientError::Said(why.clone())),
                    None => Err(ClientError::Errno(n)),
                },
                Err(_) => Err(broken("malformed errno".into())),
            },
            _ => Err(broken("reply without errno".into())),
        }
    }
}
