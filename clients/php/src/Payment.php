<?php

declare(strict_types=1);

namespace Kassagate;

/**
 * Payment forms of a receipt: the wire field of each (tag in the comment).
 */
final class Payment
{
    public const CASH = 'money_nal'; // 1031
    public const ELECTRONIC = 'money_electro'; // 1081
    public const PREPAYMENT = 'money_predoplata'; // 1215
    public const CREDIT = 'money_postoplata'; // 1216
    public const COUNTER_PROVISION = 'money_vstrecha'; // 1217

    public const ALL = [self::CASH, self::ELECTRONIC, self::PREPAYMENT, self::CREDIT, self::COUNTER_PROVISION];
}
