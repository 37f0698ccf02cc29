"""Every Molecule scenario can run while `make lab` is up (CI shares one converged lab
between checks): no scenario network overlaps a lab network, and no two scenarios
that may run one after another with leftovers overlap each other. Docker refuses a
network whose subnet overlaps an existing one, so an overlap fails `molecule create`
with the lab up (it did: scenario db on 10.0.3.0/24 beside the lab's mxlab-db)."""
import ipaddress
import pathlib
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def lab_networks(inventory=ROOT / "inventories/lab/group_vars/all/lab.yml"):
    data = yaml.safe_load(inventory.read_text())
    return {f"lab:{k}": ipaddress.ip_network(v) for k, v in data["lab_networks"].items()}


def scenario_networks():
    nets = {}
    for path in sorted((ROOT / "molecule").glob("*/molecule.yml")):
        data = yaml.safe_load(path.read_text())
        for platform in data.get("platforms", []):
            for net in platform.get("docker_networks", []):
                for ipam in net.get("ipam_config", []):
                    nets[f"{path.parent.name}:{net['name']}"] = ipaddress.ip_network(ipam["subnet"])
    return nets


def overlaps(named):
    items = sorted(named.items())
    return [(a, b) for i, (a, na) in enumerate(items) for b, nb in items[i + 1:]
            if na.overlaps(nb)]


class Subnets(unittest.TestCase):
    def test_scenarios_found(self):
        self.assertGreaterEqual(len(scenario_networks()), 5)

    def test_no_overlap_with_the_lab_or_each_other(self):
        found = overlaps({**lab_networks(), **scenario_networks()})
        self.assertEqual(found, [], "overlapping subnets; give the scenario its own")

    def test_the_check_can_fail(self):
        nets = {"lab:db": ipaddress.ip_network("10.0.3.0/24"),
                "db:molecule-db": ipaddress.ip_network("10.0.3.0/24")}
        self.assertEqual(overlaps(nets), [("db:molecule-db", "lab:db")])


if __name__ == "__main__":
    unittest.main()
