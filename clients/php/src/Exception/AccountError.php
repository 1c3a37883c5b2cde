<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The account exists but cannot take receipts now: not activated (310, 170), bound to
 * no register or to one without fiscal registration (40, 50), a cluster of an unknown
 * type or without kassas (220, 190). The operator has to fix it.
 */
final class AccountError extends RequestRejected
{
}
