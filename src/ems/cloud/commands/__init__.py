"""A command's path through the cloud (DESIGN section 4), one module per job.

=====================  ===========================================================
``dispatcher``         the front door: a dashboard's command, an edge's ack
``checks``             DESIGN 4's checks in their order, as small functions
``controller_settings`` the checks of a ``set_controller`` command
``tracked``            the tracked command and the book of known ones
``reporter``           status changes → ack frames, audit, dashboards, listeners
``routes``             this process's edge, another process's edge, the queue
``sending``            in flight (watched), then onto the edge's socket
``delivery``           draining an edge's queue; commands routed from elsewhere
``timeouts``           the watchdog (``edge_timeout``) and queue expiry
``ports``              what the path needs from the rest of the cloud
=====================  ===========================================================
"""

from ems.cloud.commands.dispatcher import Dispatcher
from ems.cloud.commands.ports import Latest, LatestSource, Peers
from ems.cloud.commands.tracked import Tracked

__all__ = ["Dispatcher", "Latest", "LatestSource", "Peers", "Tracked"]
