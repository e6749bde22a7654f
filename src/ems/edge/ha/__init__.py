"""Edge high availability (DESIGN 18): two edge boxes and a witness, one in control.

- :mod:`~ems.edge.ha.config`: the ``ha:`` block of the edge YAML.
- :mod:`~ems.edge.ha.table`: the replicated state (control lease with its fencing
  token, controller state, executed commands, the pair's config), a pure state
  machine.
- :mod:`~ems.edge.ha.raft`: that table replicated by pysyncobj's Raft, its log and
  dump kept in each member's state directory.
- :mod:`~ems.edge.ha.lease`: this node's view of its lease, the gate before control
  and every device write.
- :mod:`~ems.edge.ha.agent`: renews or seeks the lease, replicates the state.
- :mod:`~ems.edge.ha.configs`: configs pushed by the cloud, applied by both boxes.
- :mod:`~ems.edge.ha.serve`: ``ems edge --ha-node``: the edge with its agent, the
  cloud link held only while in control.
- :mod:`~ems.edge.ha.witness`: ``ems ha witness``.

Importing this package imports no Raft engine; the modules that need it do.
"""

__all__: list[str] = []
