"""ovnlb as Octavia's provider driver (``--provider ovnlb``).

* :mod:`ovnlb_octavia.provider`: the ``octavia.api.drivers`` entry point, a
  ``ProviderDriver`` that validates in the API request and applies the
  request to NB and pushes the statuses after Octavia committed;
* :mod:`ovnlb_octavia.agent`: the ``octavia.driver_agent.provider_agents``
  entry point (the NB/SB watcher, one actor per cluster by OVSDB lock);
* :mod:`ovnlb_octavia.config`: the ``[ovnlb]`` options (``oslo.config.opts``);
* :mod:`ovnlb_octavia.neutron`: the Neutron ports the provider manages.

Needs ``pip install 'ovnlb[octavia]'``; see docs/octavia.md.
"""
