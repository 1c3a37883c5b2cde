<?php

declare(strict_types=1);

namespace Kassagate\Exception;

/**
 * The account was not recognised: kassaid or cluster id missing, malformed or unknown,
 * token missing or wrong (270, 280, 290, 300, 320, 160, 180), or the receipt names
 * another account than the envelope (350). Check the credentials.
 */
final class AuthError extends RequestRejected
{
}
