//! The containers MCP manages and the nodes of the fleet.

use super::*;

impl Tx<'_> {
    /// Inserts or replaces a managed container. Its component must be recorded.
    pub fn put_container(&self, c: &ContainerRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO containers (name, service, component, container_id, image, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![c.name, c.service, c.component, c.container_id, c.image, millis(c.created_at)],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    RegistryError::NotFound {
                        what: "component",
                        name: format!("{}/{}", c.service, c.component),
                    }
                } else {
                    sql("write container")(e)
                }
            })?;
        Ok(())
    }

    /// Every managed container, by name.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        self.rows(
            "read containers",
            "SELECT name, service, component, container_id, image, created_at FROM containers ORDER BY name",
            [],
            |r| {
                Ok(ContainerRecord {
                    name: r.get(0)?,
                    service: r.get(1)?,
                    component: r.get(2)?,
                    container_id: r.get(3)?,
                    image: r.get(4)?,
                    created_at: from_millis(r.get(5)?),
                })
            },
        )
    }

    /// Forgets a container. Returns whether it was recorded.
    pub fn remove_container(&self, name: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM containers WHERE name = ?1", [name])
            .map_err(sql("remove container"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces a node.
    pub fn put_node(&self, n: &NodeRecord) -> Result<()> {
        let addresses =
            serde_json::to_string(&n.addresses).map_err(|e| RegistryError::Corrupt {
                what: "node addresses",
                detail: e.to_string(),
            })?;
        self.tx
            .execute(
                "INSERT OR REPLACE INTO nodes (name, role, addresses, ssh, arch, agent_version, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    n.name,
                    n.role.as_str(),
                    addresses,
                    n.ssh,
                    n.arch,
                    n.agent_version,
                    n.last_seen.map(millis)
                ],
            )
            .map_err(sql("write node"))?;
        Ok(())
    }

    /// Every node, by name.
    pub fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let rows = self.rows(
            "read nodes",
            "SELECT name, role, addresses, ssh, arch, agent_version, last_seen FROM nodes ORDER BY name",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(
                |(name, role, addresses, ssh, arch, agent_version, last_seen)| {
                    Ok(NodeRecord {
                        role: word(&role, "node role")?,
                        addresses: serde_json::from_str(&addresses).map_err(|e| {
                            RegistryError::Corrupt {
                                what: "node addresses",
                                detail: format!("{name}: {e}"),
                            }
                        })?,
                        name,
                        ssh,
                        arch,
                        agent_version,
                        last_seen: last_seen.map(from_millis),
                    })
                },
            )
            .collect()
    }

    /// Forgets a node. Returns whether it was recorded.
    pub fn remove_node(&self, name: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM nodes WHERE name = ?1", [name])
            .map_err(sql("remove node"))?;
        Ok(n > 0)
    }
}
