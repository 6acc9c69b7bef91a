//! The services and their components as deployed.

use super::*;

/// A service's components, in definition order (see `Tx::rows` on
/// the `CAST`).
pub(super) const COMPONENTS: &str =
    "SELECT name, container_name, image, version, desired_state, spec_hash, flapping_since
     FROM components WHERE service = CAST(?1 AS TEXT) ORDER BY rowid";

impl Tx<'_> {
    /// Inserts or replaces a service and its components. Components of the service that
    /// are not in `record` are removed (with their container rows).
    pub fn put_service(&self, record: &ServiceRecord) -> Result<()> {
        let def = &record.definition;
        self.tx
            .execute(
                "INSERT INTO services (name, node, active, definition, definition_hash, deployed_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(name) DO UPDATE SET node = ?2, active = ?3, definition = ?4,
                     definition_hash = ?5, deployed_at = ?6, updated_at = ?7",
                params![
                    def.name,
                    def.node,
                    record.active,
                    def.to_toml(),
                    def.definition_hash(),
                    millis(record.deployed_at),
                    millis(record.updated_at),
                ],
            )
            .map_err(sql("write service"))?;
        let keep: Vec<&str> = record.components.iter().map(|c| c.name.as_str()).collect();
        let existing = self.component_names(&def.name)?;
        for name in existing.iter().filter(|n| !keep.contains(&n.as_str())) {
            self.tx
                .execute(
                    "DELETE FROM components WHERE service = ?1 AND name = ?2",
                    params![def.name, name],
                )
                .map_err(sql("remove component"))?;
        }
        for c in &record.components {
            self.tx
                .execute(
                    "INSERT INTO components (service, name, container_name, image, version, desired_state,
                         spec_hash, flapping_since)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(service, name) DO UPDATE SET container_name = ?3, image = ?4,
                         version = ?5, desired_state = ?6, spec_hash = ?7, flapping_since = ?8",
                    params![
                        def.name,
                        c.name,
                        c.container_name,
                        c.image,
                        c.version,
                        c.desired.as_str(),
                        c.spec_hash,
                        c.flapping_since.map(millis),
                    ],
                )
                .map_err(|e| {
                    if is_constraint(&e) {
                        RegistryError::Conflict(format!(
                            "container name {:?} is already used by another service",
                            c.container_name
                        ))
                    } else {
                        sql("write component")(e)
                    }
                })?;
        }
        Ok(())
    }

    fn component_names(&self, service: &str) -> Result<Vec<String>> {
        self.rows(
            "read components",
            "SELECT name FROM components WHERE service = CAST(?1 AS TEXT) ORDER BY rowid",
            [service],
            |r| r.get(0),
        )
    }

    /// The service named `name`, with its components.
    pub fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let row = self
            .tx
            .prepare_cached(
                "SELECT active, definition, deployed_at, updated_at FROM services WHERE name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([name], |r| {
                    Ok((
                        r.get::<_, bool>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()
            })
            .map_err(sql("read service"))?;
        let Some((active, text, deployed, updated)) = row else {
            return Ok(None);
        };
        let definition =
            ServiceDefinition::parse(&text, None).map_err(|e| RegistryError::Corrupt {
                what: "service definition",
                detail: format!("{name}: {e}"),
            })?;
        let components = self
            .rows("read components", COMPONENTS, [name], |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ),
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })?
            .into_iter()
            .map(
                |((name, container_name, image, version), state, spec_hash, flapping)| {
                    Ok(ComponentRecord {
                        desired: word(&state, "desired state")?,
                        name,
                        container_name,
                        image,
                        version,
                        spec_hash,
                        flapping_since: flapping.map(from_millis),
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(ServiceRecord {
            definition,
            active,
            components,
            deployed_at: from_millis(deployed),
            updated_at: from_millis(updated),
        }))
    }

    /// Every service, by name.
    pub fn services(&self) -> Result<Vec<ServiceRecord>> {
        let names: Vec<String> = self.rows(
            "list services",
            "SELECT name FROM services ORDER BY name",
            [],
            |r| r.get(0),
        )?;
        names
            .iter()
            .filter_map(|n| self.service(n).transpose())
            .collect()
    }

    /// Sets whether the service is kept running (`stop` clears it, `start` sets it).
    pub fn set_service_active(&self, name: &str, active: bool, at: SystemTime) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE services SET active = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, active, millis(at)],
            )
            .map_err(sql("update service"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "service",
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Sets the desired state of one component.
    pub fn set_component_state(
        &self,
        service: &str,
        component: &str,
        desired: DesiredState,
    ) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE components SET desired_state = ?3 WHERE service = ?1 AND name = ?2",
                params![service, component, desired.as_str()],
            )
            .map_err(sql("update component"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "component",
                name: format!("{service}/{component}"),
            });
        }
        Ok(())
    }

    /// Marks a component as flapping since `since`, or clears the mark (`None`).
    pub fn set_component_flapping(
        &self,
        service: &str,
        component: &str,
        since: Option<SystemTime>,
    ) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE components SET flapping_since = ?3 WHERE service = ?1 AND name = ?2",
                params![service, component, since.map(millis)],
            )
            .map_err(sql("update component"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "component",
                name: format!("{service}/{component}"),
            });
        }
        Ok(())
    }

    /// Removes a service: its row, components, container rows and port leases.
    /// Returns whether it existed. Certificates, proxy routes and DNS records are
    /// removed by whoever removes the real thing, with their own calls.
    pub fn remove_service(&self, name: &str) -> Result<bool> {
        self.release_service_leases(name)?;
        let n = self
            .tx
            .execute("DELETE FROM services WHERE name = ?1", [name])
            .map_err(sql("remove service"))?;
        Ok(n > 0)
    }
}
