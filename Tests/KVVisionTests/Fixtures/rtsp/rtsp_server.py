#!/usr/bin/python3
"""A live RTSP camera for the serve tests: GStreamer's RTSP server, H.264 over RTP.

Run with Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-rtsp-server-1.0, the good and ugly
plugins; `tools/dev test` installs them). Serves videotestsrc at SIZE and FPS on
rtsp://127.0.0.1:PORT/MOUNT over TCP and UDP (or only the transport given), one shared
pipeline for all clients (--per-client: a pipeline of its own per client, so every client sees
the same frames from frame 0). Prints "PORT <n>" on stdout once it listens (port 0 picks a free one),
then runs until killed or until --lifetime seconds have passed (a test that dies never leaves a
server behind).

--stall-after S: S seconds after the media is created (first DESCRIBE), stop sending media (the session stays
open, the sockets stay connected, nothing more arrives): a camera that hangs; with --stall-for D
media flows again after D seconds.
"""
import argparse
import socket
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mount", default="/cam")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--pattern", default="ball")
    ap.add_argument("--transport", choices=["any", "tcp", "udp"], default="any")
    ap.add_argument("--stall-after", type=float, default=0)
    ap.add_argument("--stall-for", type=float, default=0)
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--per-client", action="store_true")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    factory = GstRtspServer.RTSPMediaFactory()
    # --per-client: a constant quantizer and one encoder thread, so every client's bitstream is
    # the same bytes (bitrate control would follow the live timing of a loaded machine).
    rate = "pass=quant quantizer=24 threads=1" if args.per_client else "bitrate=500"
    factory.set_launch(
        f"( videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1 "
        f"! valve name=valve drop=false "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} {rate} "
        f"! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(not args.per_client)
    protocols = {"any": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
                 "tcp": GstRtsp.RTSPLowerTrans.TCP,
                 "udp": GstRtsp.RTSPLowerTrans.UDP}[args.transport]
    factory.set_protocols(protocols)
    if args.stall_after > 0:
        def configured(_factory, media):
            def stall():
                valve = media.get_element().get_by_name("valve")
                if valve is not None:
                    valve.set_property("drop", True)
                    print("STALLED", flush=True)
                    if args.stall_for > 0:
                        def resume():
                            valve.set_property("drop", False)
                            print("RESUMED", flush=True)
                            return False
                        GLib.timeout_add(int(args.stall_for * 1000), resume)
                return False
            GLib.timeout_add(int(args.stall_after * 1000), stall)
        factory.connect("media-configure", configured)
    server.get_mount_points().add_factory(args.mount, factory)
    # Our own listener with SO_REUSEADDR (the server's own does not set it), so a server killed
    # mid-stream can be restarted on the same port at once; accepted connections are handed over.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", args.port))
    except OSError as e:
        print(f"cannot listen on port {args.port}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    listener.listen(16)
    listener.setblocking(False)

    def accept(_fd, _condition):
        try:
            conn, (ip, port) = listener.accept()
        except BlockingIOError:
            return True
        conn.setblocking(True)
        gsock = Gio.Socket.new_from_fd(conn.detach())
        server.transfer_connection(gsock, ip, port, None)
        return True

    GLib.io_add_watch(listener.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN, accept)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    loop = GLib.MainLoop()
    GLib.timeout_add(int(args.lifetime * 1000), loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
