//! The Part 2 operations, matched on the decoded path segments after
//! `/api/v3.0`: repositories of shells, submodels and concept descriptions,
//! the shell → submodel superpaths, the single-shell and single-submodel
//! service views, packages, serialization and the service description.

use std::ops::Bound;
use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use world::Command;

use super::repo::{Change, Kind, Repo, StoredFile};
use super::view::{self, Extent, Level};
use super::{
    AasError, Ctx, Paged, PagingMetadata, decode_id, encode_id, ok_json, shells_referencing, twin,
};

const SSP: &str = "https://admin-shell.io/aas/API/3/0/";

/// The profiles this server implements (IDTA-01002 §13).
fn profiles() -> Vec<String> {
    [
        "AssetAdministrationShellRepositoryServiceSpecification/SSP-001",
        "AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
        "SubmodelRepositoryServiceSpecification/SSP-001",
        "SubmodelRepositoryServiceSpecification/SSP-002",
        "ConceptDescriptionRepositoryServiceSpecification/SSP-001",
        "AssetAdministrationShellServiceSpecification/SSP-002",
        "SubmodelServiceSpecification/SSP-002",
        "AasxFileServerServiceSpecification/SSP-001",
    ]
    .iter()
    .map(|p| format!("{SSP}{p}"))
    .collect()
}

fn description() -> Response {
    ok_json(StatusCode::OK, &json!({ "profiles": profiles() }))
}

fn not_allowed(ctx: &Ctx) -> AasError {
    AasError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on this path", ctx.method),
    )
}

/// Dispatches on the path.
pub(crate) async fn route(ctx: &mut Ctx, segments: &[&str]) -> Result<Response, AasError> {
    let get = ctx.method == Method::GET;
    match segments {
        ["description"] if get => Ok(description()),
        ["serialization"] if get => serialization(ctx, None),
        ["shells"] => match ctx.method {
            Method::GET => list_shells(ctx, false, None),
            Method::POST => create(ctx, Kind::Shell).await,
            _ => Err(not_allowed(ctx)),
        },
        ["shells", "$reference"] if get => list_shells(ctx, true, None),
        ["shells", id, "service", rest @ ..] => {
            let id = decode_id(id)?;
            shell_service(ctx, &id, rest).await
        }
        ["shells", id, rest @ ..] => {
            let id = decode_id(id)?;
            shell(ctx, &id, rest).await
        }
        ["submodels"] => match ctx.method {
            Method::GET => list_submodels(ctx, None),
            Method::POST => create(ctx, Kind::Submodel).await,
            _ => Err(not_allowed(ctx)),
        },
        ["submodels", modifier] if get && modifier.starts_with('$') => {
            list_submodels(ctx, Some(modifier))
        }
        ["submodels", id, "service", rest @ ..] => {
            let id = decode_id(id)?;
            submodel_service(ctx, &id, rest).await
        }
        ["submodels", id, rest @ ..] => {
            let id = decode_id(id)?;
            submodel(ctx, &id, rest).await
        }
        ["concept-descriptions"] => match ctx.method {
            Method::GET => list_plain(ctx, Kind::Concept),
            Method::POST => create(ctx, Kind::Concept).await,
            _ => Err(not_allowed(ctx)),
        },
        ["concept-descriptions", id] => {
            let id = decode_id(id)?;
            identifiable(ctx, Kind::Concept, &id).await
        }
        ["packages"] => match ctx.method {
            Method::GET => list_packages(ctx),
            Method::POST => upload_package(ctx).await,
            _ => Err(not_allowed(ctx)),
        },
        ["packages", id] => {
            let id = decode_id(id)?;
            match ctx.method {
                Method::GET => download_package(ctx, &id),
                Method::DELETE => delete_package(ctx, &id).await,
                _ => Err(not_allowed(ctx)),
            }
        }
        _ => Err(AasError::not_found(format!(
            "no AAS operation at /{}; see IDTA-01002 Part 2 v3.0",
            segments.join("/")
        ))),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Shell => "AssetAdministrationShell",
        Kind::Submodel => "Submodel",
        Kind::Concept => "ConceptDescription",
        Kind::Package => "package",
    }
}

/// Parses and verifies a body as strict 3.0 of the class `kind`, returning
/// its id and normalized JSON.
fn checked(kind: Kind, body: &Value) -> Result<(String, Value), AasError> {
    fn check<T: ::aas::Class>(body: &Value) -> Result<T, AasError> {
        let parsed: T = ::aas::json::from_value(body)
            .map_err(|e| AasError::bad(format!("the body is not a valid value: {e}")))?;
        let problems = ::aas::verify(&parsed);
        if let Some(first) = problems.first() {
            return Err(AasError::bad(format!(
                "the body breaks {} constraint(s); first: {first}",
                problems.len()
            )));
        }
        Ok(parsed)
    }
    match kind {
        Kind::Shell => {
            let s: ::aas::AssetAdministrationShell = check(body)?;
            Ok((s.id.clone(), ::aas::json::to_value(&s)))
        }
        Kind::Submodel => {
            let s: ::aas::Submodel = check(body)?;
            Ok((s.id.clone(), ::aas::json::to_value(&s)))
        }
        Kind::Concept => {
            let s: ::aas::ConceptDescription = check(body)?;
            Ok((s.id.clone(), ::aas::json::to_value(&s)))
        }
        Kind::Package => Err(AasError::bad("packages are uploaded as AASX files")),
    }
}

/// `POST` of a shell, submodel or concept description: 201, 409 if taken.
async fn create(ctx: &mut Ctx, kind: Kind) -> Result<Response, AasError> {
    let body = ctx.json_body().await?;
    let (id, value) = checked(kind, &body)?;
    let out = value.clone();
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            if repo.get(kind, &id).is_some() {
                return Err(AasError::new(
                    StatusCode::CONFLICT,
                    format!("a {} with id '{id}' already exists", kind_name(kind)),
                ));
            }
            Ok((vec![Change::Put(kind, id.clone(), value)], ()))
        })
        .await?;
    Ok(ok_json(StatusCode::CREATED, &out))
}

/// `GET`, `PUT` and `DELETE` of one identifiable by id.
async fn identifiable(ctx: &mut Ctx, kind: Kind, id: &str) -> Result<Response, AasError> {
    match ctx.method {
        Method::GET => {
            let repo = ctx.repo.read();
            let found = repo.get(kind, id).ok_or_else(|| missing(kind, id))?;
            Ok(ok_json(StatusCode::OK, found.as_ref()))
        }
        Method::PUT => {
            let body = ctx.json_body().await?;
            let (body_id, value) = checked(kind, &body)?;
            if body_id != id {
                return Err(AasError::bad(format!(
                    "the body's id '{body_id}' differs from the id in the path '{id}'"
                )));
            }
            put(ctx, kind, id, value).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::DELETE => {
            let commit = Arc::clone(ctx.app.inner.worlds.commit());
            ctx.repo
                .write(&commit, |repo| {
                    repo.get(kind, id).ok_or_else(|| missing(kind, id))?;
                    Ok((vec![Change::Delete(kind, id.to_owned())], ()))
                })
                .await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(not_allowed(ctx)),
    }
}

fn missing(kind: Kind, id: &str) -> AasError {
    AasError::not_found(format!("there is no {} with id '{id}'", kind_name(kind)))
}

/// Replaces an existing identifiable (404 when absent).
async fn put(ctx: &Ctx, kind: Kind, id: &str, value: Value) -> Result<(), AasError> {
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            repo.get(kind, id).ok_or_else(|| missing(kind, id))?;
            Ok((vec![Change::Put(kind, id.to_owned(), value)], ()))
        })
        .await
}

/// One page of a sorted map after the cursor, keeping entries `keep` accepts.
fn page<'a>(
    ctx: &Ctx,
    map: &'a std::collections::BTreeMap<String, Arc<Value>>,
    keep: impl Fn(&Value) -> bool,
) -> Result<(Vec<&'a Arc<Value>>, Option<String>), AasError> {
    let limit = ctx.query.limit()?;
    let start = match ctx.query.get("cursor") {
        Some(cursor) => Bound::Excluded(decode_id(cursor)?),
        None => Bound::Unbounded,
    };
    let mut out = Vec::with_capacity(limit.min(1024));
    let mut next = None;
    for (id, value) in map.range::<String, _>((start, Bound::Unbounded)) {
        if !keep(value) {
            continue;
        }
        if out.len() == limit {
            // The cursor names the last id returned; the next page starts after it.
            next = out
                .last()
                .and_then(|v: &&Arc<Value>| v.get("id"))
                .and_then(Value::as_str)
                .map(encode_id);
            let _ = id;
            break;
        }
        out.push(value);
    }
    Ok((out, next))
}

fn paged<T: serde::Serialize>(result: Vec<T>, cursor: Option<String>) -> Response {
    ok_json(
        StatusCode::OK,
        &Paged {
            paging_metadata: PagingMetadata { cursor },
            result,
        },
    )
}

fn list_plain(ctx: &Ctx, kind: Kind) -> Result<Response, AasError> {
    let id_short = ctx.query.get("idShort").map(str::to_owned);
    let repo = ctx.repo.read();
    let (items, cursor) = page(ctx, repo.map(kind), |v| {
        id_short
            .as_deref()
            .is_none_or(|s| view::id_short(v) == Some(s))
    })?;
    Ok(paged(items.iter().map(|v| v.as_ref()).collect(), cursor))
}

/// The `assetIds` filter: base64url-encoded `SpecificAssetId` JSON objects
/// (`name` `globalAssetId` matches the global asset id).
fn asset_filter(ctx: &Ctx) -> Result<Vec<(String, String)>, AasError> {
    ctx.query
        .all("assetIds")
        .map(|encoded| {
            let text = decode_id(encoded)?;
            let value: Value = serde_json::from_str(&text).map_err(|_| {
                AasError::bad("assetIds must be base64url-encoded {\"name\", \"value\"} objects")
            })?;
            match (
                value.get("name").and_then(Value::as_str),
                value.get("value").and_then(Value::as_str),
            ) {
                (Some(n), Some(v)) => Ok((n.to_owned(), v.to_owned())),
                _ => Err(AasError::bad(
                    "each assetIds entry needs a string 'name' and 'value'",
                )),
            }
        })
        .collect()
}

fn shell_has_asset(shell: &Value, name: &str, value: &str) -> bool {
    let info = &shell["assetInformation"];
    if name == "globalAssetId" && info["globalAssetId"].as_str() == Some(value) {
        return true;
    }
    info["specificAssetIds"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["name"].as_str() == Some(name) && s["value"].as_str() == Some(value))
}

fn shell_reference(id: &str) -> Value {
    view::model_reference("AssetAdministrationShell", id, &[])
}

/// `GET /shells` and `/shells/$reference`; `only` restricts to one shell (the
/// single-shell service's view of the list).
fn list_shells(ctx: &Ctx, references: bool, only: Option<&str>) -> Result<Response, AasError> {
    let id_short = ctx.query.get("idShort").map(str::to_owned);
    let assets = asset_filter(ctx)?;
    let repo = ctx.repo.read();
    let (items, cursor) = page(ctx, repo.map(Kind::Shell), |v| {
        only.is_none_or(|o| v["id"].as_str() == Some(o))
            && id_short
                .as_deref()
                .is_none_or(|s| view::id_short(v) == Some(s))
            && assets.iter().all(|(n, a)| shell_has_asset(v, n, a))
    })?;
    if references {
        let refs: Vec<Value> = items
            .iter()
            .map(|v| shell_reference(v["id"].as_str().unwrap_or_default()))
            .collect();
        return Ok(paged(refs, cursor));
    }
    Ok(paged(items.iter().map(|v| v.as_ref()).collect(), cursor))
}

/// `GET /submodels` and its modifiers.
fn list_submodels(ctx: &Ctx, modifier: Option<&str>) -> Result<Response, AasError> {
    let level = ctx.query.level()?;
    let extent = ctx.query.extent()?;
    let id_short = ctx.query.get("idShort").map(str::to_owned);
    let semantic = match ctx.query.get("semanticId") {
        Some(encoded) => Some(decode_id(encoded)?),
        None => None,
    };
    let repo = ctx.repo.read();
    let (items, cursor) = page(ctx, repo.map(Kind::Submodel), |v| {
        id_short
            .as_deref()
            .is_none_or(|s| view::id_short(v) == Some(s))
            && semantic.as_deref().is_none_or(|s| {
                v.pointer("/semanticId/keys/0/value")
                    .and_then(Value::as_str)
                    == Some(s)
            })
    })?;
    let world = ctx.world.read();
    let plain = modifier.is_none() && level == Level::Deep && extent == Extent::WithoutBlobValue;
    let mut out = Vec::with_capacity(items.len());
    if modifier == Some("$path") {
        // One entry per submodel, a string as the profile's schema has it: the
        // root of its idShort paths (its idShort; its id when it has none).
        // A submodel's element paths are `/submodels/{id}/$path`.
        for item in items {
            let root = view::id_short(item).or_else(|| item["id"].as_str());
            out.push(Value::String(root.unwrap_or_default().to_owned()));
        }
        return Ok(paged(out, cursor));
    }
    for item in items {
        if plain && !twin::has_bindings(item) && !has_blob(item) {
            out.push(item.as_ref().clone());
            continue;
        }
        let mut sm = item.as_ref().clone();
        twin::overlay(&mut sm, &world);
        out.push(submodel_view(&sm, modifier, level, extent)?);
    }
    Ok(paged(out, cursor))
}

fn has_blob(node: &Value) -> bool {
    match node {
        Value::Object(o) => {
            o.get("modelType").and_then(Value::as_str) == Some("Blob") || o.values().any(has_blob)
        }
        Value::Array(a) => a.iter().any(has_blob),
        _ => false,
    }
}

/// A submodel as a modifier asks for it.
fn submodel_view(
    sm: &Value,
    modifier: Option<&str>,
    level: Level,
    extent: Extent,
) -> Result<Value, AasError> {
    let id = sm["id"].as_str().unwrap_or_default();
    Ok(match modifier {
        None => {
            let mut out = sm.clone();
            view::shape(&mut out, level, extent);
            out
        }
        Some("$metadata") => view::metadata(sm).unwrap_or_default(),
        Some("$value") => {
            let mut shaped = sm.clone();
            view::shape(&mut shaped, level, extent);
            Value::Object(view::named_values(shaped.get("submodelElements"), extent))
        }
        Some("$reference") => view::model_reference("Submodel", id, &[]),
        Some("$path") => {
            let mut paths = Vec::new();
            view::paths(sm.get("submodelElements"), "", level, &mut paths);
            json!(paths)
        }
        Some(other) => {
            return Err(AasError::bad(format!(
                "'{other}' is not a modifier; use $metadata, $value, $reference or $path"
            )));
        }
    })
}

/// Where a submodel comes from.
enum Source {
    Stored,
    Projected,
}

/// Loads a submodel (stored, else projected from a twin) with bound values
/// overlaid.
fn load_submodel(ctx: &Ctx, id: &str) -> Result<(Value, Source), AasError> {
    let world = ctx.world.read();
    if let Some(stored) = ctx.repo.read().get(Kind::Submodel, id) {
        let mut sm = stored.as_ref().clone();
        twin::overlay(&mut sm, &world);
        return Ok((sm, Source::Stored));
    }
    let projected = match twin::parse(id) {
        Some(twin::Projected::Properties(t)) => twin::properties(&world, &t),
        Some(twin::Projected::Relationships(t)) => twin::relationships(&world, &t),
        _ => None,
    };
    projected
        .map(|sm| (sm, Source::Projected))
        .ok_or_else(|| missing(Kind::Submodel, id))
}

/// Loads a shell (stored, else projected).
fn load_shell(ctx: &Ctx, id: &str) -> Result<Value, AasError> {
    if let Some(stored) = ctx.repo.read().get(Kind::Shell, id) {
        return Ok(stored.as_ref().clone());
    }
    match twin::parse(id) {
        Some(twin::Projected::Shell(t)) => twin::shell(&ctx.world.read(), &t),
        _ => None,
    }
    .ok_or_else(|| missing(Kind::Shell, id))
}

fn submodel_refs(shell: &Value) -> Vec<Value> {
    shell
        .get("submodels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Operations on one shell: `/shells/{id}/…`.
async fn shell(ctx: &mut Ctx, id: &str, rest: &[&str]) -> Result<Response, AasError> {
    let get = ctx.method == Method::GET;
    match rest {
        [] => {
            if get {
                let shell = load_shell(ctx, id)?;
                Ok(ok_json(StatusCode::OK, &shell))
            } else {
                identifiable(ctx, Kind::Shell, id).await
            }
        }
        ["$reference"] if get => {
            load_shell(ctx, id)?;
            Ok(ok_json(StatusCode::OK, &shell_reference(id)))
        }
        ["asset-information"] => match ctx.method {
            Method::GET => Ok(ok_json(
                StatusCode::OK,
                &load_shell(ctx, id)?["assetInformation"],
            )),
            Method::PUT => {
                let info = ctx.json_body().await?;
                let mut shell = stored_shell(ctx, id)?;
                shell["assetInformation"] = info;
                let (_, value) = checked(Kind::Shell, &shell)?;
                put(ctx, Kind::Shell, id, value).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(not_allowed(ctx)),
        },
        ["asset-information", "thumbnail"] if get => {
            let shell = load_shell(ctx, id)?;
            let path = shell
                .pointer("/assetInformation/defaultThumbnail/path")
                .and_then(Value::as_str)
                .ok_or_else(|| AasError::not_found(format!("the shell '{id}' has no thumbnail")))?;
            file_response(ctx, path)
        }
        ["submodel-refs"] => match ctx.method {
            Method::GET => {
                let refs = submodel_refs(&load_shell(ctx, id)?);
                index_page(ctx, refs)
            }
            Method::POST => {
                let reference = ctx.json_body().await?;
                let mut shell = stored_shell(ctx, id)?;
                let mut refs = submodel_refs(&shell);
                refs.push(reference.clone());
                shell["submodels"] = Value::Array(refs);
                let (_, value) = checked(Kind::Shell, &shell)?;
                put(ctx, Kind::Shell, id, value).await?;
                Ok(ok_json(StatusCode::CREATED, &reference))
            }
            _ => Err(not_allowed(ctx)),
        },
        ["submodel-refs", sm] if ctx.method == Method::DELETE => {
            let sm = decode_id(sm)?;
            let mut shell = stored_shell(ctx, id)?;
            let refs = submodel_refs(&shell);
            let kept: Vec<Value> = refs
                .iter()
                .filter(|r| r.pointer("/keys/0/value").and_then(Value::as_str) != Some(&sm))
                .cloned()
                .collect();
            if kept.len() == refs.len() {
                return Err(AasError::not_found(format!(
                    "the shell '{id}' does not reference submodel '{sm}'"
                )));
            }
            if kept.is_empty() {
                if let Some(o) = shell.as_object_mut() {
                    o.remove("submodels");
                }
            } else {
                shell["submodels"] = Value::Array(kept);
            }
            put(ctx, Kind::Shell, id, shell).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["submodels", sm, more @ ..] => {
            let sm = decode_id(sm)?;
            let shell = load_shell(ctx, id)?;
            let referenced = submodel_refs(&shell)
                .iter()
                .any(|r| r.pointer("/keys/0/value").and_then(Value::as_str) == Some(&sm));
            if !referenced {
                return Err(AasError::not_found(format!(
                    "the shell '{id}' does not reference submodel '{sm}'"
                )));
            }
            submodel(ctx, &sm, more).await
        }
        _ => Err(AasError::not_found(format!(
            "no shell operation at /{}",
            rest.join("/")
        ))),
    }
}

fn stored_shell(ctx: &Ctx, id: &str) -> Result<Value, AasError> {
    ctx.repo
        .read()
        .get(Kind::Shell, id)
        .map(|v| v.as_ref().clone())
        .ok_or_else(|| {
            if twin::parse(id).is_some() {
                AasError::bad(format!(
                    "'{id}' is projected from a twin; change the twin through the ADT API"
                ))
            } else {
                missing(Kind::Shell, id)
            }
        })
}

/// A page of a list addressed by position (element lists, submodel refs).
fn index_page(ctx: &Ctx, items: Vec<Value>) -> Result<Response, AasError> {
    let limit = ctx.query.limit()?;
    let start = match ctx.query.get("cursor") {
        Some(cursor) => decode_id(cursor)?
            .parse::<usize>()
            .map_err(|_| AasError::bad(format!("'{cursor}' is not a cursor this list gave")))?,
        None => 0,
    };
    let end = start.saturating_add(limit).min(items.len());
    let page: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let cursor = (end < items.len()).then(|| encode_id(&end.to_string()));
    Ok(paged(page, cursor))
}

/// The single-shell service of Part 2 (`/aas…`) over one stored shell.
async fn shell_service(ctx: &mut Ctx, id: &str, rest: &[&str]) -> Result<Response, AasError> {
    match rest {
        [] => shell(ctx, id, &[]).await,
        ["description"] => Ok(description()),
        ["aas", "shells"] if ctx.method == Method::GET => list_shells(ctx, false, Some(id)),
        ["aas", "serialization"] if ctx.method == Method::GET => serialization(ctx, Some(id)),
        ["aas", more @ ..] => shell(ctx, id, more).await,
        _ => Err(AasError::not_found(format!(
            "no AAS service operation at /{}",
            rest.join("/")
        ))),
    }
}

/// The single-submodel service of Part 2 (`/submodel…`) over one submodel.
async fn submodel_service(ctx: &mut Ctx, id: &str, rest: &[&str]) -> Result<Response, AasError> {
    match rest {
        [] => submodel(ctx, id, &[]).await,
        ["description"] => Ok(description()),
        ["submodel", "shells"] if ctx.method == Method::GET => {
            let holders = shells_referencing(&ctx.repo.read(), id);
            let first = holders.into_iter().next().unwrap_or_default();
            list_shells(ctx, false, Some(&first))
        }
        ["submodel", "serialization"] if ctx.method == Method::GET => {
            let holders = shells_referencing(&ctx.repo.read(), id);
            let first = holders.into_iter().next().unwrap_or_default();
            serialization(ctx, Some(&first))
        }
        ["submodel", more @ ..] => submodel(ctx, id, more).await,
        _ => Err(AasError::not_found(format!(
            "no submodel service operation at /{}",
            rest.join("/")
        ))),
    }
}

/// Operations on one submodel: `/submodels/{id}/…`.
async fn submodel(ctx: &mut Ctx, id: &str, rest: &[&str]) -> Result<Response, AasError> {
    let get = ctx.method == Method::GET;
    match rest {
        [] if get => {
            let (level, extent) = (ctx.query.level()?, ctx.query.extent()?);
            let (sm, _) = load_submodel(ctx, id)?;
            Ok(ok_json(
                StatusCode::OK,
                &submodel_view(&sm, None, level, extent)?,
            ))
        }
        [] => identifiable(ctx, Kind::Submodel, id).await,
        [modifier] if get && modifier.starts_with('$') => {
            let (level, extent) = (ctx.query.level()?, ctx.query.extent()?);
            let (sm, _) = load_submodel(ctx, id)?;
            Ok(ok_json(
                StatusCode::OK,
                &submodel_view(&sm, Some(modifier), level, extent)?,
            ))
        }
        ["$value"] if ctx.method == Method::PATCH => {
            let value = ctx.json_body().await?;
            write_value(ctx, id, None, &value).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["submodel-elements"] => match ctx.method {
            Method::GET => list_elements(ctx, id, None),
            Method::POST => {
                let element = ctx.json_body().await?;
                add_element(ctx, id, None, element).await
            }
            _ => Err(not_allowed(ctx)),
        },
        ["submodel-elements", modifier] if get && modifier.starts_with('$') => {
            list_elements(ctx, id, Some(modifier))
        }
        ["submodel-elements", path] => match ctx.method {
            Method::GET => {
                let (level, extent) = (ctx.query.level()?, ctx.query.extent()?);
                let (sm, _) = load_submodel(ctx, id)?;
                let (element, _, _) = find(&sm, id, path)?;
                let mut out = element.clone();
                view::shape(&mut out, level, extent);
                Ok(ok_json(StatusCode::OK, &out))
            }
            Method::PUT => {
                let element = ctx.json_body().await?;
                replace_element(ctx, id, path, Some(element)).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Method::DELETE => {
                replace_element(ctx, id, path, None).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Method::POST => {
                let element = ctx.json_body().await?;
                add_element(ctx, id, Some(path), element).await
            }
            _ => Err(not_allowed(ctx)),
        },
        ["submodel-elements", path, "$value"] if ctx.method == Method::PATCH => {
            let value = ctx.json_body().await?;
            write_value(ctx, id, Some(path), &value).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ["submodel-elements", path, "attachment"] if get => {
            let (sm, _) = load_submodel(ctx, id)?;
            let (element, _, _) = find(&sm, id, path)?;
            if view::model_type(element) != "File" {
                return Err(AasError::bad(format!(
                    "'{path}' is a {}, not a File",
                    view::model_type(element)
                )));
            }
            let value = element["value"]
                .as_str()
                .ok_or_else(|| AasError::not_found(format!("the File '{path}' has no value")))?;
            file_response(ctx, value)
        }
        ["submodel-elements", path, modifier] if get => {
            let (level, extent) = (ctx.query.level()?, ctx.query.extent()?);
            let (sm, _) = load_submodel(ctx, id)?;
            let (element, keys, _) = find(&sm, id, path)?;
            let kind = view::model_type(element);
            let out = match *modifier {
                "$metadata" => view::metadata(element).ok_or_else(|| {
                    AasError::bad(format!("a {kind} has no $metadata serialization"))
                })?,
                "$value" => {
                    let mut shaped = element.clone();
                    view::shape(&mut shaped, level, extent);
                    view::element_value(&shaped, extent).ok_or_else(|| {
                        AasError::bad(format!("a {kind} has no $value serialization"))
                    })?
                }
                "$reference" => view::model_reference("Submodel", id, &keys),
                "$path" => {
                    if view::children_key(element).is_none()
                        || kind == "AnnotatedRelationshipElement"
                    {
                        return Err(AasError::bad(format!(
                            "a {kind} has no $path serialization (only collections, lists and entities)"
                        )));
                    }
                    let mut paths = vec![(*path).to_owned()];
                    if level == Level::Deep {
                        view::below(element, path, &mut paths);
                    }
                    json!(paths)
                }
                other => {
                    return Err(AasError::not_found(format!(
                        "no element operation '{other}'"
                    )));
                }
            };
            Ok(ok_json(StatusCode::OK, &out))
        }
        _ => Err(AasError::not_found(format!(
            "no submodel operation at /{}",
            rest.join("/")
        ))),
    }
}

fn find<'a>(
    sm: &'a Value,
    id: &str,
    path: &str,
) -> Result<(&'a Value, Vec<view::KeyStep>, String), AasError> {
    ::aas::parse_id_short_path(path)
        .map_err(|e| AasError::bad(format!("'{path}' is not an idShort path: {e}")))?;
    view::find(sm, path)
        .ok_or_else(|| AasError::not_found(format!("submodel '{id}' has no element at '{path}'")))
}

/// `GET …/submodel-elements` and its modifiers, paged by position.
fn list_elements(ctx: &Ctx, id: &str, modifier: Option<&str>) -> Result<Response, AasError> {
    let (level, extent) = (ctx.query.level()?, ctx.query.extent()?);
    let (sm, _) = load_submodel(ctx, id)?;
    let elements = sm["submodelElements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let items: Vec<Value> = match modifier {
        None => elements
            .into_iter()
            .map(|mut e| {
                view::shape(&mut e, level, extent);
                e
            })
            .collect(),
        Some("$metadata") => elements.iter().filter_map(view::metadata).collect(),
        Some("$value") => elements
            .into_iter()
            .filter_map(|mut e| {
                view::shape(&mut e, level, extent);
                view::element_value(&e, extent)
            })
            .collect(),
        Some("$reference") => elements
            .iter()
            .filter_map(|e| {
                let name = view::id_short(e)?;
                Some(view::model_reference(
                    "Submodel",
                    id,
                    &[(view::model_type(e).to_owned(), name.to_owned())],
                ))
            })
            .collect(),
        Some("$path") => {
            let mut paths = Vec::new();
            view::paths(Some(&Value::Array(elements)), "", level, &mut paths);
            paths.into_iter().map(Value::String).collect()
        }
        Some(other) => {
            return Err(AasError::bad(format!(
                "'{other}' is not a modifier; use $metadata, $value, $reference or $path"
            )));
        }
    };
    index_page(ctx, items)
}

/// Checks a changed submodel against the metamodel and returns its strict JSON.
fn verified_submodel(sm: &Value) -> Result<Value, AasError> {
    checked(Kind::Submodel, sm).map(|(_, v)| v)
}

fn stored_submodel(repo: &Repo, id: &str) -> Result<Value, AasError> {
    repo.get(Kind::Submodel, id)
        .map(|v| v.as_ref().clone())
        .ok_or_else(|| {
            if twin::parse(id).is_some() {
                AasError::bad(format!(
                    "'{id}' is projected from a twin; change the twin through the ADT API \
                     or write values with PATCH …/$value"
                ))
            } else {
                missing(Kind::Submodel, id)
            }
        })
}

/// `PATCH …/$value`: bound elements patch their twins through
/// `Worlds::apply` (validated, durable, seen by every API); the rest is written
/// into the stored submodel.
async fn write_value(
    ctx: &Ctx,
    id: &str,
    path: Option<&str>,
    value: &Value,
) -> Result<(), AasError> {
    let (sm, source) = load_submodel(ctx, id)?;
    let (element, pointer) = match path {
        Some(path) => {
            let (element, _, pointer) = find(&sm, id, path)?;
            (element.clone(), pointer)
        }
        None => (
            json!({ "modelType": "SubmodelElementCollection",
                    "value": sm["submodelElements"].clone() }),
            String::new(),
        ),
    };
    // A single element's value may come wrapped as its `$value` reads
    // (`{"Speed": 5}`) or bare (`5`); collections are never unwrapped when a
    // child has their own idShort.
    let unwrapped;
    let value = match (view::id_short(&element), value.as_object()) {
        (Some(name), Some(object))
            if object.len() == 1
                && object.contains_key(name)
                && view::children_key(&element).is_none_or(|key| {
                    !element[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| view::id_short(c) == Some(name))
                }) =>
        {
            unwrapped = object[name].clone();
            &unwrapped
        }
        _ => value,
    };
    // Check the shape before touching any twin.
    let mut probe = element.clone();
    view::set_value(&mut probe, value).map_err(AasError::bad)?;
    for (twin_id, ops) in twin::patches(&element, value) {
        let patch: json_patch::Patch = serde_json::from_value(ops)
            .map_err(|e| AasError::bad(format!("cannot patch twin '{twin_id}': {e}")))?;
        let command = Command::PatchTwin {
            id: twin_id,
            patch,
            condition: world::Condition::None,
        };
        ctx.app.inner.worlds.apply(&ctx.world, command).await?;
    }
    if let Source::Projected = source {
        return Ok(());
    }
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            let mut sm = stored_submodel(repo, id)?;
            let target = if pointer.is_empty() {
                let elements = sm
                    .get_mut("submodelElements")
                    .ok_or_else(|| AasError::bad("the submodel has no elements"))?;
                let mut wrapper = json!({ "modelType": "SubmodelElementCollection",
                                          "value": elements.take() });
                view::set_value(&mut wrapper, value).map_err(AasError::bad)?;
                *elements = wrapper["value"].take();
                None
            } else {
                Some(pointer.as_str())
            };
            if let Some(pointer) = target {
                let element = sm
                    .pointer_mut(pointer)
                    .ok_or_else(|| AasError::not_found("the element changed meanwhile"))?;
                view::set_value(element, value).map_err(AasError::bad)?;
            }
            let sm = verified_submodel(&sm)?;
            Ok((vec![Change::Put(Kind::Submodel, id.to_owned(), sm)], ()))
        })
        .await
}

/// `PUT` (replace) or `DELETE` of the element at `path` in a stored submodel.
async fn replace_element(
    ctx: &Ctx,
    id: &str,
    path: &str,
    element: Option<Value>,
) -> Result<(), AasError> {
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            let mut sm = stored_submodel(repo, id)?;
            let (_, _, pointer) = find(&sm, id, path)?;
            let (parent, index) = pointer
                .rsplit_once('/')
                .ok_or_else(|| AasError::bad("the path names no element"))?;
            let index: usize = index
                .parse()
                .map_err(|_| AasError::bad("the path names no element"))?;
            let siblings = sm
                .pointer_mut(parent)
                .and_then(Value::as_array_mut)
                .ok_or_else(|| AasError::bad("the path names no element"))?;
            match element {
                Some(new) => {
                    if let Some(slot) = siblings.get_mut(index) {
                        *slot = new;
                    }
                }
                None => {
                    if index < siblings.len() {
                        siblings.remove(index);
                    }
                }
            }
            let sm = verified_submodel(&sm)?;
            Ok((vec![Change::Put(Kind::Submodel, id.to_owned(), sm)], ()))
        })
        .await
}

/// `POST …/submodel-elements[/{path}]`: adds an element at the top level or
/// into a collection, list or entity; 409 when the idShort is taken.
async fn add_element(
    ctx: &Ctx,
    id: &str,
    path: Option<&str>,
    element: Value,
) -> Result<Response, AasError> {
    let out = element.clone();
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            let mut sm = stored_submodel(repo, id)?;
            let (pointer, key) = match path {
                None => (String::new(), "submodelElements"),
                Some(path) => {
                    let (parent, _, pointer) = find(&sm, id, path)?;
                    let key = view::children_key(parent).ok_or_else(|| {
                        AasError::bad(format!("a {} holds no elements", view::model_type(parent)))
                    })?;
                    (pointer, key)
                }
            };
            let parent = sm
                .pointer_mut(&pointer)
                .and_then(Value::as_object_mut)
                .ok_or_else(|| AasError::bad("the parent is not an object"))?;
            let children = parent
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .ok_or_else(|| AasError::bad("the parent's elements are not a list"))?;
            if let Some(name) = view::id_short(&element)
                && children.iter().any(|c| view::id_short(c) == Some(name))
            {
                return Err(AasError::new(
                    StatusCode::CONFLICT,
                    format!("an element with idShort '{name}' already exists there"),
                ));
            }
            children.push(element);
            let sm = verified_submodel(&sm)?;
            Ok((vec![Change::Put(Kind::Submodel, id.to_owned(), sm)], ()))
        })
        .await?;
    Ok(ok_json(StatusCode::CREATED, &out))
}

/// Serves a supplementary file by its package path.
fn file_response(ctx: &Ctx, path: &str) -> Result<Response, AasError> {
    let repo = ctx.repo.read();
    let key = normalize_part(path);
    let file = repo
        .files
        .iter()
        .find(|(p, _)| normalize_part(p) == key)
        .map(|(_, f)| Arc::clone(f))
        .ok_or_else(|| AasError::not_found(format!("no file is stored at '{path}'")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, file.content_type.clone())],
        file.bytes.clone(),
    )
        .into_response())
}

/// OPC compares part names without case and from the package root.
fn normalize_part(path: &str) -> String {
    let trimmed = path.strip_prefix("file://").unwrap_or(path);
    format!("/{}", trimmed.trim_start_matches('/')).to_lowercase()
}

/// Builds an environment from stored items (`None` = everything).
fn environment(
    repo: &Repo,
    world: &world::World,
    shells: Option<&[String]>,
    submodels: Option<&[String]>,
    concepts: bool,
) -> Result<Value, AasError> {
    let pick = |kind: Kind, ids: Option<&[String]>| -> Result<Vec<Value>, AasError> {
        match ids {
            None => Ok(repo
                .map(kind)
                .values()
                .map(|v| v.as_ref().clone())
                .collect()),
            Some(ids) => ids
                .iter()
                .map(|id| {
                    repo.get(kind, id)
                        .map(|v| v.as_ref().clone())
                        .ok_or_else(|| missing(kind, id))
                })
                .collect(),
        }
    };
    let mut subs = pick(Kind::Submodel, submodels)?;
    for sm in &mut subs {
        twin::overlay(sm, world);
    }
    let mut env = serde_json::Map::new();
    let shells = pick(Kind::Shell, shells)?;
    if !shells.is_empty() {
        env.insert("assetAdministrationShells".into(), Value::Array(shells));
    }
    if !subs.is_empty() {
        env.insert("submodels".into(), Value::Array(subs));
    }
    if concepts {
        let cds = pick(Kind::Concept, None)?;
        if !cds.is_empty() {
            env.insert("conceptDescriptions".into(), Value::Array(cds));
        }
    }
    Ok(Value::Object(env))
}

/// `GET /serialization`: JSON (default), XML or AASX by `Accept`.
fn serialization(ctx: &Ctx, only_shell: Option<&str>) -> Result<Response, AasError> {
    let mut aas_ids: Vec<String> = ctx
        .query
        .all("aasIds")
        .map(decode_id)
        .collect::<Result<_, _>>()?;
    let sm_ids: Vec<String> = ctx
        .query
        .all("submodelIds")
        .map(decode_id)
        .collect::<Result<_, _>>()?;
    let concepts = ctx.query.bool("includeConceptDescriptions", true)?;
    if let Some(only) = only_shell
        && aas_ids.is_empty()
    {
        aas_ids.push(only.to_owned());
    }
    let repo = ctx.repo.read();
    let world = ctx.world.read();
    let filtered = !aas_ids.is_empty() || !sm_ids.is_empty();
    let env = if filtered {
        environment(&repo, &world, Some(&aas_ids), Some(&sm_ids), concepts)?
    } else {
        environment(&repo, &world, None, None, concepts)?
    };
    drop(world);
    drop(repo);
    let accept = ctx
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if accept.contains("package") || accept.contains("aasx") {
        let parsed: ::aas::Environment = ::aas::json::from_value(&env)
            .map_err(|e| AasError::bad(format!("the stored content does not serialize: {e}")))?;
        let files = package_files(&ctx.repo.read(), &parsed);
        let bytes = ::aas::aasx::write(
            &parsed,
            &::aas::aasx::WriteOptions {
                format: ::aas::aasx::SpecFormat::Json,
                thumbnail: None,
                files: &files,
            },
        )
        .map_err(|e| AasError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        return Ok((
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/asset-administration-shell-package+xml",
            )],
            bytes,
        )
            .into_response());
    }
    if accept.contains("xml") {
        let parsed: ::aas::Environment = ::aas::json::from_value(&env)
            .map_err(|e| AasError::bad(format!("the stored content does not serialize: {e}")))?;
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            ::aas::xml::to_string(&parsed),
        )
            .into_response());
    }
    Ok(ok_json(StatusCode::OK, &env))
}

/// The stored files an environment references, as package parts.
fn package_files(repo: &Repo, env: &::aas::Environment) -> Vec<::aas::aasx::PackageFile> {
    let mut out: Vec<::aas::aasx::PackageFile> = Vec::new();
    for reference in env.referenced_files() {
        let key = normalize_part(reference);
        if out.iter().any(|f| normalize_part(&f.path) == key) {
            continue;
        }
        if let Some((path, file)) = repo.files.iter().find(|(p, _)| normalize_part(p) == key) {
            out.push(::aas::aasx::PackageFile {
                path: path.clone(),
                content_type: file.content_type.clone(),
                bytes: file.bytes.clone(),
            });
        }
    }
    out
}

fn list_packages(ctx: &Ctx) -> Result<Response, AasError> {
    let filter = match ctx.query.get("aasId") {
        Some(encoded) => Some(decode_id(encoded)?),
        None => None,
    };
    let repo = ctx.repo.read();
    let (items, cursor) = page(ctx, repo.map(Kind::Package), |p| {
        filter.as_deref().is_none_or(|f| {
            p["aasIds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a.as_str() == Some(f))
        })
    })?;
    let out: Vec<Value> = items
        .iter()
        .map(|p| json!({ "packageId": p["id"], "aasIds": p["aasIds"] }))
        .collect();
    Ok(paged(out, cursor))
}

/// Takes the package bytes out of a `multipart/form-data` body (the `file`
/// part, as Part 2 specifies) or a raw AASX body.
fn package_bytes(ctx: &Ctx, body: Vec<u8>) -> Result<Vec<u8>, AasError> {
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    else {
        return Ok(body);
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut at = 0;
    while let Some(found) = find_bytes(&body[at..], delimiter) {
        parts.push(at + found);
        at += found + delimiter.len();
    }
    for pair in parts.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        let Some(header_end) = find_bytes(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..header_end]).to_lowercase();
        if headers.contains("name=\"file\"") || headers.contains("filename=") {
            let content = &part[header_end + 4..];
            let content = content.strip_suffix(b"\r\n").unwrap_or(content);
            return Ok(content.to_vec());
        }
    }
    Err(AasError::bad(
        "the multipart body has no 'file' part with the AASX package",
    ))
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST /packages`: reads an AASX, stores what it holds (each item verified;
/// a package with broken constraints or nothing in it is refused) and
/// records the package.
async fn upload_package(ctx: &mut Ctx) -> Result<Response, AasError> {
    let body = ctx.bytes_body().await?;
    let bytes = package_bytes(ctx, body)?;
    let package = ::aas::aasx::read(&bytes, ::aas::ReadOptions::LENIENT)
        .map_err(|e| AasError::bad(format!("the AASX package cannot be read: {e}")))?;
    let env = &package.environment;
    let problems = ::aas::verify(env);
    if let Some(first) = problems.first() {
        return Err(AasError::bad(format!(
            "the package breaks {} constraint(s); first: {first}",
            problems.len()
        )));
    }
    let shells: Vec<String> = env
        .asset_administration_shells
        .iter()
        .flatten()
        .map(|s| s.id.clone())
        .collect();
    let submodels: Vec<String> = env
        .submodels
        .iter()
        .flatten()
        .map(|s| s.id.clone())
        .collect();
    let concepts: Vec<String> = env
        .concept_descriptions
        .iter()
        .flatten()
        .map(|s| s.id.clone())
        .collect();
    if shells.is_empty() && submodels.is_empty() && concepts.is_empty() {
        return Err(AasError::bad(
            "the AASX package holds no shell, submodel or concept description",
        ));
    }
    let package_id = format!(
        "package:{}",
        shells.first().or(submodels.first()).map_or("", |s| s)
    );
    let mut changes = Vec::new();
    for shell in env.asset_administration_shells.iter().flatten() {
        changes.push(Change::Put(
            Kind::Shell,
            shell.id.clone(),
            ::aas::json::to_value(shell),
        ));
    }
    for sm in env.submodels.iter().flatten() {
        changes.push(Change::Put(
            Kind::Submodel,
            sm.id.clone(),
            ::aas::json::to_value(sm),
        ));
    }
    for cd in env.concept_descriptions.iter().flatten() {
        changes.push(Change::Put(
            Kind::Concept,
            cd.id.clone(),
            ::aas::json::to_value(cd),
        ));
    }
    for file in package.files.iter().chain(package.thumbnail.as_ref()) {
        changes.push(Change::PutFile(
            file.path.clone(),
            StoredFile {
                content_type: file.content_type.clone(),
                bytes: file.bytes.clone(),
            },
        ));
    }
    let record = json!({
        "id": package_id,
        "aasIds": shells,
        "submodelIds": submodels,
        "conceptDescriptionIds": concepts,
        "thumbnail": package.thumbnail.as_ref().map(|t| t.path.clone()),
    });
    changes.push(Change::Put(Kind::Package, package_id.clone(), record));
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            if repo.get(Kind::Package, &package_id).is_some() {
                return Err(AasError::new(
                    StatusCode::CONFLICT,
                    format!("a package with id '{package_id}' already exists; delete it first"),
                ));
            }
            Ok((changes, ()))
        })
        .await?;
    Ok(ok_json(
        StatusCode::CREATED,
        &json!({ "packageId": package_id, "aasIds": shells }),
    ))
}

fn ids(record: &Value, key: &str) -> Vec<String> {
    record[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `GET /packages/{id}`: the package rebuilt from the current content of
/// what it brought (so values written since are in it).
fn download_package(ctx: &Ctx, id: &str) -> Result<Response, AasError> {
    let repo = ctx.repo.read();
    let record = repo
        .get(Kind::Package, id)
        .ok_or_else(|| missing(Kind::Package, id))?
        .clone();
    let keep = |kind: Kind, key: &str| -> Vec<String> {
        ids(&record, key)
            .into_iter()
            .filter(|i| repo.get(kind, i).is_some())
            .collect()
    };
    let shells = keep(Kind::Shell, "aasIds");
    let submodels = keep(Kind::Submodel, "submodelIds");
    let world = ctx.world.read();
    let mut env = environment(&repo, &world, Some(&shells), Some(&submodels), false)?;
    let cds: Vec<Value> = keep(Kind::Concept, "conceptDescriptionIds")
        .iter()
        .filter_map(|i| repo.get(Kind::Concept, i).map(|v| v.as_ref().clone()))
        .collect();
    if !cds.is_empty() {
        env["conceptDescriptions"] = Value::Array(cds);
    }
    let parsed: ::aas::Environment = ::aas::json::from_value(&env)
        .map_err(|e| AasError::bad(format!("the stored content does not serialize: {e}")))?;
    let files = package_files(&repo, &parsed);
    let thumbnail = record["thumbnail"].as_str().and_then(|path| {
        repo.files.get(path).map(|f| ::aas::aasx::PackageFile {
            path: path.to_owned(),
            content_type: f.content_type.clone(),
            bytes: f.bytes.clone(),
        })
    });
    let bytes = ::aas::aasx::write(
        &parsed,
        &::aas::aasx::WriteOptions {
            format: ::aas::aasx::SpecFormat::Json,
            thumbnail: thumbnail.as_ref(),
            files: &files,
        },
    )
    .map_err(|e| AasError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/asset-administration-shell-package+xml",
        )],
        bytes,
    )
        .into_response())
}

/// `DELETE /packages/{id}`: removes the package and what it brought.
async fn delete_package(ctx: &Ctx, id: &str) -> Result<Response, AasError> {
    let commit = Arc::clone(ctx.app.inner.worlds.commit());
    ctx.repo
        .write(&commit, |repo| {
            let record = repo
                .get(Kind::Package, id)
                .ok_or_else(|| missing(Kind::Package, id))?;
            let mut changes = vec![Change::Delete(Kind::Package, id.to_owned())];
            for (kind, key) in [
                (Kind::Shell, "aasIds"),
                (Kind::Submodel, "submodelIds"),
                (Kind::Concept, "conceptDescriptionIds"),
            ] {
                for item in ids(record, key) {
                    if repo.get(kind, &item).is_some() {
                        changes.push(Change::Delete(kind, item));
                    }
                }
            }
            Ok((changes, ()))
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
