using LlmServer.Dto.Operations;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Operations;

/// <summary>Virtual keys: create (shown once), list (prefix only), get, update, revoke. Master key only.</summary>
[ApiController]
[Route("api/v1/admin/keys")]
[MasterKey(required: true)]
[Produces("application/json")]
public sealed class AdminKeysController(IVirtualKeyService keys, IBudgetStore budgets, TimeProvider time) : ControllerBase
{
    /// <summary>Creates a key; the answer holds the key itself, which is never shown again.</summary>
    [HttpPost]
    [ProducesResponseType<OkDto<CreatedKeyDto>>(StatusCodes.Status201Created)]
    public async Task<IActionResult> Create([FromBody] KeyRequestDto? request, CancellationToken cancellationToken)
    {
        request ??= new KeyRequestDto();
        var created = await keys.CreateAsync(Merge(new VirtualKeySpec(), request), cancellationToken);
        var body = new OkDto<CreatedKeyDto>(new CreatedKeyDto { Key = created.PlaintextKey, Info = await ToDtoAsync(created.Key, cancellationToken) });
        return StatusCode(StatusCodes.Status201Created, body);
    }

    /// <summary>Lists keys (prefix only). Revoked ones with ?include_revoked=true.</summary>
    [HttpGet]
    [ProducesResponseType<OkDto<List<KeyDto>>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> List([FromQuery(Name = "include_revoked")] bool includeRevoked, CancellationToken cancellationToken)
    {
        var list = new List<KeyDto>();
        foreach (var key in await keys.ListAsync(includeRevoked, cancellationToken))
        {
            list.Add(await ToDtoAsync(key, cancellationToken));
        }
        return Ok(new OkDto<List<KeyDto>>(list));
    }

    /// <summary>One key with its current spend.</summary>
    [HttpGet("{id}")]
    [ProducesResponseType<OkDto<KeyDto>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Get(string id, CancellationToken cancellationToken)
    {
        var key = await keys.GetAsync(id, cancellationToken);
        return key is null ? NotFoundError(id) : Ok(new OkDto<KeyDto>(await ToDtoAsync(key, cancellationToken)));
    }

    /// <summary>Updates a key: fields present replace the stored ones.</summary>
    [HttpPatch("{id}")]
    [HttpPut("{id}")]
    [ProducesResponseType<OkDto<KeyDto>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Update(string id, [FromBody] KeyRequestDto? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            return ApiError.Create(HttpContext, StatusCodes.Status400BadRequest, "invalid_request", "A JSON body is required.");
        }
        var existing = await keys.GetAsync(id, cancellationToken);
        if (existing is null)
        {
            return NotFoundError(id);
        }
        var updated = await keys.UpdateAsync(id, Merge(existing.Spec, request), cancellationToken);
        return updated is null ? NotFoundError(id) : Ok(new OkDto<KeyDto>(await ToDtoAsync(updated, cancellationToken)));
    }

    /// <summary>Revokes a key: it stops working at once here, within KeyCacheSeconds elsewhere; its ledger rows stay.</summary>
    [HttpDelete("{id}")]
    [ProducesResponseType<OkDto<KeyDto>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Revoke(string id, CancellationToken cancellationToken)
    {
        var existing = await keys.GetAsync(id, cancellationToken);
        if (existing is null)
        {
            return NotFoundError(id);
        }
        await keys.RevokeAsync(id, cancellationToken);
        var key = await keys.GetAsync(id, cancellationToken);
        return Ok(new OkDto<KeyDto>(await ToDtoAsync(key!, cancellationToken)));
    }

    private IActionResult NotFoundError(string id) =>
        ApiError.Create(HttpContext, StatusCodes.Status404NotFound, "key_not_found", $"No virtual key with id '{id}'.");

    private static VirtualKeySpec Merge(VirtualKeySpec spec, KeyRequestDto r) => spec with
    {
        Name = r.Name ?? spec.Name,
        AllowedModels = r.AllowedModels is { } m ? m.Select(x => x.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList() : spec.AllowedModels,
        Budget = r.Budget is { } b ? new KeyBudget { TotalUsd = b.TotalUsd, MonthlyUsd = b.MonthlyUsd, DailyUsd = b.DailyUsd } : spec.Budget,
        Rpm = r.Rpm is int rpm ? (rpm == 0 ? null : rpm) : spec.Rpm,
        Tpm = r.Tpm is long tpm ? (tpm == 0 ? null : tpm) : spec.Tpm,
        MaskingPolicy = r.MaskingPolicy ?? spec.MaskingPolicy,
        Metadata = r.Metadata ?? spec.Metadata,
    };

    private async Task<KeyDto> ToDtoAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        var spend = new List<KeySpendDto>();
        foreach (var window in BudgetService.Windows(key.Spec.Budget, time.GetUtcNow()))
        {
            var row = await budgets.GetAsync(key.Id, window.Period, cancellationToken);
            spend.Add(new KeySpendDto
            {
                Period = window.Period,
                LimitUsd = window.LimitNanoUsd / BudgetService.NanoPerUsd,
                SpentUsd = (row?.SpentNanoUsd ?? 0) / BudgetService.NanoPerUsd,
                ReservedUsd = (row?.ReservedNanoUsd ?? 0) / BudgetService.NanoPerUsd,
            });
        }
        return new KeyDto
        {
            Id = key.Id,
            Name = key.Spec.Name,
            KeyPrefix = key.Prefix,
            AllowedModels = [.. key.Spec.AllowedModels],
            Budget = new KeyBudgetDto { TotalUsd = key.Spec.Budget.TotalUsd, MonthlyUsd = key.Spec.Budget.MonthlyUsd, DailyUsd = key.Spec.Budget.DailyUsd },
            Rpm = key.Spec.Rpm,
            Tpm = key.Spec.Tpm,
            MaskingPolicy = key.Spec.MaskingPolicy,
            Metadata = new Dictionary<string, string>(key.Spec.Metadata),
            CreatedAt = key.CreatedAt,
            UpdatedAt = key.UpdatedAt,
            RevokedAt = key.RevokedAt,
            Spend = spend,
        };
    }
}
