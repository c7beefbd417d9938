#!/usr/bin/python3
# A fake IP camera for tests: GStreamer's RTSP server on 127.0.0.1:<port>/cam, live H.264 (High,
# 640x360 30 fps, keyframe at most every 30 frames) + AAC. Prints "ready" once listening.
# Must run with /usr/bin/python3 (Debian's, which has the gi module). Usage: fake-camera.py <port>
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
LAUNCH = (
    '( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,framerate=30/1 '
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=800 ! video/x-h264,profile=high '
    '! rtph264pay name=pay0 pt=96 config-interval=1 '
    'audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )'
)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(LAUNCH)
factory.set_shared(True)
server.get_mount_points().add_factory('/cam', factory)
if server.attach(None) == 0:
    sys.exit('could not listen on port ' + sys.argv[1])
print('ready', flush=True)
GLib.MainLoop().run()
