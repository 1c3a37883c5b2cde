<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * GET /v1/status answered 404: no request with this nuid/qnuid pair.
 */
final class StatusNotFound extends KassagateException
{
}
