<?php
// Test-setup actions that Phorge offers no Conduit method or CLI for, done with Phorge's
// own classes (see ../shared/phorge/README.md). Run as:
//   php phorge_admin.php PHORGE_ROOT users NAME:ROLE[,NAME:ROLE...]   (ROLE: user|bot|admin)
//   php phorge_admin.php PHORGE_ROOT space NAME VIEW_POLICY default|other ACTOR_USERNAME
//   php phorge_admin.php PHORGE_ROOT webhook NAME URI      (a firehose hook: every change, no rule)
//   php phorge_admin.php PHORGE_ROOT comment XACT_PHID ACTOR_USERNAME edit TEXT | remove
//                                       (the web UI's "Edit Comment" and "Remove Comment")
// Prints one JSON object on stdout.
$root = $argv[1];
require_once $root.'/scripts/__init_script__.php';

$content_source = PhabricatorContentSource::newForSource(PhabricatorConsoleContentSource::SOURCECONST);

function make_user($name, $role) {
  $user = id(new PhabricatorUser())
    ->setUsername($name)
    ->setRealName(ucfirst($name).' Example')
    ->setIsApproved(1)
    ->setIsAdmin($role === 'admin' ? 1 : 0);
  $email = id(new PhabricatorUserEmail())
    ->setAddress($name.'@example.org')
    ->setIsVerified(1);
  $actor = PhabricatorUser::getOmnipotentUser();
  id(new PhabricatorUserEditor())->setActor($actor)->createNewUser($user, $email);
  if ($role === 'bot') {
    id(new PhabricatorUserEditor())->setActor($actor)->makeSystemAgentUser($user, true);
  }
  $token = PhabricatorConduitToken::initializeNewToken(
    $user->getPHID(), PhabricatorConduitToken::TYPE_STANDARD);
  $token->save();
  return array('phid' => $user->getPHID(), 'token' => $token->getToken());
}

$action = $argv[2];
if ($action === 'users') {
  $out = array();
  foreach (explode(',', $argv[3]) as $spec) {
    list($name, $role) = explode(':', $spec);
    $out[$name] = make_user($name, $role);
  }
  echo json_encode($out);
} else if ($action === 'space') {
  // Transactions need an author with a PHID who can see the result (Phorge refuses a
  // policy that locks its editor out), so the caller names who acts.
  $admin_actor = id(new PhabricatorPeopleQuery())
    ->setViewer(PhabricatorUser::getOmnipotentUser())
    ->withUsernames(array($argv[6]))
    ->executeOne();
  $space = PhabricatorSpacesNamespace::initializeNewNamespace($admin_actor);
  $xactions = array();
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorSpacesNamespaceNameTransaction::TRANSACTIONTYPE)
    ->setNewValue($argv[3]);
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorTransactions::TYPE_VIEW_POLICY)
    ->setNewValue($argv[4]);
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorTransactions::TYPE_EDIT_POLICY)
    ->setNewValue($argv[4] === 'public' ? 'admin' : $argv[4]);
  if ($argv[5] === 'default') {
    $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
      ->setTransactionType(PhabricatorSpacesNamespaceDefaultTransaction::TRANSACTIONTYPE)
      ->setNewValue(true);
  }
  id(new PhabricatorSpacesNamespaceEditor())
    ->setActor($admin_actor)
    ->setContentSource($content_source)
    ->setContinueOnNoEffect(true)
    ->applyTransactions($space, $xactions);
  echo json_encode(array('phid' => $space->getPHID(), 'monogram' => $space->getMonogram()));
} else if ($action === 'webhook') {
  $actor = id(new PhabricatorPeopleQuery())
    ->setViewer(PhabricatorUser::getOmnipotentUser())
    ->withIsAdmin(true)
    ->setLimit(1)
    ->executeOne();
  $hook = HeraldWebhook::initializeNewWebhook($actor);
  $xactions = array();
  foreach (array(
    HeraldWebhookNameTransaction::TRANSACTIONTYPE => $argv[3],
    HeraldWebhookURITransaction::TRANSACTIONTYPE => $argv[4],
    HeraldWebhookStatusTransaction::TRANSACTIONTYPE => HeraldWebhook::HOOKSTATUS_FIREHOSE,
  ) as $type => $value) {
    $xactions[] = id(new HeraldWebhookTransaction())
      ->setTransactionType($type)
      ->setNewValue($value);
  }
  id(new HeraldWebhookEditor())
    ->setActor($actor)
    ->setContentSource($content_source)
    ->setContinueOnNoEffect(true)
    ->applyTransactions($hook, $xactions);
  echo json_encode(array('phid' => $hook->getPHID(), 'key' => $hook->getHMACKey()));
} else if ($action === 'comment') {
  $actor = id(new PhabricatorPeopleQuery())
    ->setViewer(PhabricatorUser::getOmnipotentUser())
    ->withUsernames(array($argv[4]))
    ->executeOne();
  $xaction = id(new PhabricatorObjectQuery())
    ->setViewer($actor)
    ->withPHIDs(array($argv[3]))
    ->executeOne();
  // A removal asks for a high-security session, which needs a web session; an account without
  // MFA is let through without touching it, so an unsaved one will do.
  $actor->attachSession(new PhabricatorAuthSession());
  // As PhabricatorApplicationTransactionCommentEditController and ...RemoveController do.
  $comment = $xaction->getApplicationTransactionCommentObject();
  if ($argv[5] === 'remove') {
    $comment->setContent('')->setIsRemoved(true);
  } else {
    $comment->setContent($argv[6]);
  }
  id(new PhabricatorApplicationTransactionCommentEditor())
    ->setActor($actor)
    ->setContentSource($content_source)
    // Its MFA check wants a request; accounts of the sandbox have no MFA, so none is asked for.
    ->setRequest(new AphrontRequest('localhost', '/'))
    ->setCancelURI('/')
    ->applyEdit($xaction, $comment);
  echo json_encode(array('version' => (int)$xaction->getCommentVersion()));
} else {
  fwrite(STDERR, "unknown action $action\n");
  exit(2);
}
