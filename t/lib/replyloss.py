# replyloss.py - a TCP proxy in front of a Redis server that loses replies:
# "the server executed it, but the reply never came back".
#
# The first connection whose client sends a command containing TRIGGER
# gets the replies of every command before it and of the KEEP commands
# from it on; the rest are withheld, and once the server has been quiet
# for QUIET seconds (it executed everything) both sides are closed.  The
# client must reconnect (passed through untouched) and resend what was not
# acknowledged.  Counting whole RESP commands and replies makes the cut
# exact whatever the pipelining.
import socket
import threading
import time

QUIET = 0.5


def resp_end(buf, i=0):
    """End offset of the RESP value at buf[i:], None while incomplete."""
    if i >= len(buf):
        return None
    j = buf.find(b'\r\n', i)
    if j < 0:
        return None
    t, line = buf[i:i + 1], buf[i + 1:j]
    if t in (b'+', b'-', b':', b',', b'#', b'_', b'('):
        return j + 2
    if t in (b'$', b'=', b'!'):
        n = int(line)
        if n < 0:
            return j + 2
        return j + 2 + n + 2 if len(buf) >= j + 2 + n + 2 else None
    if t in (b'*', b'%', b'~', b'>'):
        n = int(line)
        if t == b'%':
            n *= 2
        k = j + 2
        for _ in range(max(n, 0)):
            k = resp_end(buf, k)
            if k is None:
                return None
        return k
    raise ValueError('not RESP: %r' % buf[i:i + 40])


class ReplyLoss:
    def __init__(self, rport, trigger, keep=0):
        self.rport, self.trigger, self.keep = rport, trigger.encode(), keep
        self.lock = threading.Lock()
        self.used = False
        self.dropped = threading.Event()
        self.withheld = 0
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(('127.0.0.1', 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.url = 'redis://127.0.0.1:%d' % self.port
        self.socks = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped = True
        for s in [self.srv] + self.socks:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.srv.accept()
                s = socket.create_connection(('127.0.0.1', self.rport))
            except OSError:
                return
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks += [c, s]
            threading.Thread(target=self._conn, args=(c, s), daemon=True).start()

    def _conn(self, c, s):
        # cut: index of the first reply withheld on this connection
        st = {'cmds': 0, 'cut': None}

        def c2s():
            buf = bytearray()
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                    while True:
                        e = resp_end(buf)
                        if e is None:
                            break
                        if st['cut'] is None and self.trigger in buf[:e]:
                            with self.lock:
                                if not self.used:
                                    self.used = True
                                    st['cut'] = st['cmds'] + self.keep
                        del buf[:e]
                        st['cmds'] += 1
                    # after the cut is set: the reply that must be withheld
                    # cannot come back before the cut is known
                    s.sendall(d)
            except OSError:
                pass
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=c2s, daemon=True).start()
        buf = bytearray()
        nrep = 0
        last = time.time()
        s.settimeout(0.05)
        while True:
            try:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
                last = time.time()
            except socket.timeout:
                pass
            except OSError:
                break
            while True:
                cut = st['cut']
                if cut is not None and nrep >= cut:
                    break
                e = resp_end(buf)
                if e is None:
                    break
                try:
                    c.sendall(bytes(buf[:e]))
                except OSError:
                    return
                del buf[:e]
                nrep += 1
            cut = st['cut']
            if cut is not None and nrep >= cut and time.time() - last > QUIET:
                n, k = 0, 0
                while True:
                    k = resp_end(buf, k)
                    if k is None:
                        break
                    n += 1
                self.withheld = n
                self.dropped.set()
                break
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()
