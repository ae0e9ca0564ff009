"""ovnlb as Octavia's provider driver (``--provider ovnlb``).

* :mod:`ovnlb_octavia.provider`: the ``octavia.api.drivers`` entry point, a
  ``ProviderDriver`` with one thin method per Octavia call, taken through
  :mod:`~ovnlb_octavia.calls` (validate in the API request, apply to NB
  after Octavia committed), with the Neutron ports of
  :mod:`~ovnlb_octavia.ports` and the status reports of
  :mod:`~ovnlb_octavia.reports`, on the per-process
  :mod:`~ovnlb_octavia.runtime` (built by :mod:`~ovnlb_octavia.wiring`);
* :mod:`ovnlb_octavia.agent`: the ``octavia.driver_agent.provider_agents``
  entry point (the NB/SB watcher, one actor per cluster by OVSDB lock);
* :mod:`ovnlb_octavia.config`: the ``[ovnlb]`` options (``oslo.config.opts``);
* :mod:`ovnlb_octavia.neutron`: the Neutron ports the provider manages.

Needs ``pip install 'ovnlb[octavia]'``; see docs/octavia.md.
"""
