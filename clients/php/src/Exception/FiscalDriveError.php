<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The register's fiscal drive cannot take the receipt: broken (330), exhausted (340),
 * every kassa of the cluster unusable (200). Nothing was stored.
 */
final class FiscalDriveError extends RequestRejected
{
}
